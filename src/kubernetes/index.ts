// routelet's Kubernetes side: the cluster as configuration. Importing this module loads no
// client library; KubeWatcher.start() does (see watcher.ts).
export { nodeInfo, leaseInfo, podCIDRs, timeOf, ZONE_LABEL, LEASE_NAMESPACE, type NodeInfo, type LeaseInfo, type ConditionStatus } from './objects.js';
export { nodeHealth, nextHealthChange, DEFAULT_LEASE_GRACE_MS, type NodeHealth, type HealthVerdict } from './health.js';
export { parseSelector, matches, type LabelSelector, type Requirement } from '../config/selector.js';
export {
  nodeOverrides,
  ANNOTATION_ASN,
  ANNOTATION_PEERS,
  ANNOTATION_ROUTE_REFLECTOR,
  ANNOTATION_BFD,
  ANNOTATION_BFD_INTERVAL,
  ANNOTATION_BFD_MULTIPLIER,
  meshBfd,
  type NodeOverrides,
  type NodeBfd,
  type AnnotationPeer,
} from './annotations.js';
export { selectReflectors, isCandidate, DEFAULT_REFLECTOR_COUNT } from './reflectors.js';
export {
  desiredPeers,
  nodeToPeers,
  isPassiveSide,
  type DesiredPeers,
  type KubePeer,
  type MeshSettings,
  type PeerDefaults,
  type PeerOrigin,
  type ReflectorSettings,
  type SelectedPeer,
} from './peers.js';
export { writeState, readState, STATE_FILE, type KubeState, type ReadStateResult } from './state.js';
export { KubeWatcher, type WatcherOptions, type ChangeMarks, type KubeConfigSource, type ResourceStatus } from './watcher.js';
export { kubeSettings, KUBERNETES_VARIABLES, DEFAULT_STATE_DIR, type KubeSettings } from './settings.js';
