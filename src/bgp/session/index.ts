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
export { acceptOpen, localCapabilities, localOpen, type LocalOpen, type Negotiated, type OpenVerdict, type PeerGracefulRestart } from './negotiation.js';
export { Session, type PeerSettings, type SessionContext, type SessionDown, type SessionEvents } from './session.js';
export { Sessions, type SessionsOptions, type StopNotification } from './sessions.js';
export { cease, ceaseOnWire, type Cease } from './cease.js';
export { notificationError, plainError, socketError, type LastError, type LastErrorKind } from './lasterror.js';
