// The BGP session layer: the RFC 4271 FSM per connection (fsm.ts), connections that drive it
// (connection.ts), one session per peer with collision detection and reconnect backoff
// (session.ts), and the set of all sessions with dynamic neighbours (sessions.ts).
//
//   Listener 'connection' ─► Sessions.accept ─► Session.accept ─► Connection (FSM)
//   Session.start ─► Connection 'connect' ─► transport connect() ─► Connection (FSM)
//   Connection: socket bytes ─► Framer (in the callback) ─► decodeMessage (setImmediate) ─► FSM
//   SessionEvents ─► the agent: established / update / routeRefresh / down
export * from './fsm.js';
export { Connection, type ConnectionHost, type ConnectionStats, type Direction, type Endpoint, type Notification } from './connection.js';
export { acceptOpen, localCapabilities, localOpen, type LocalOpen, type Negotiated, type OpenVerdict, type PeerGracefulRestart } from './open.js';
export { Session, type PeerSettings, type SessionContext, type SessionDown, type SessionEvents } from './session.js';
export { Sessions, ceaseWithMessage, deconfigured, type SessionsOptions, type StopNotification } from './sessions.js';
export { notificationError, plainError, shutdownData, socketError, type LastError, type LastErrorKind } from './words.js';
