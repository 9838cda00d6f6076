// The transport of BGP sessions: what the session state machine uses to listen and to connect.
export { Listener, type InboundConnection, type KeyStatus, type ListenerOptions, type ListenerSnapshot, type RefusedConnection } from './listener.js';
export { bindAddresses, probePeer } from './probe.js';
export { connect, type ConnectError, type ConnectOptions, type OutboundConnection } from './connector.js';
export { AcceptPolicy, type DynamicPolicy, type TransportPeer, minTtl, sendTtl, transportPolicy } from './peers.js';
export { planKeys, lookupKey, type KeyPlan, type Md5Key } from './keyplan.js';
export { SOCKET_ERRORS, socketErrorText } from './errors.js';
export { ackSilence, silenceError, type AckSilence } from './ackwatch.js';
export { receive, socketFromFd } from './reader.js';
