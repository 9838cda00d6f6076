import { describe, expect, it } from 'vitest';
import { kubeSettings } from '../../src/kubernetes/settings.js';
import { ConfigError } from '../../src/config/index.js';

const host = () => 'worker-1';

describe('kubeSettings', () => {
  it('auto: on in a pod or with KUBECONFIG, off otherwise', () => {
    expect(kubeSettings({}, host)).toMatchObject({ enabled: false, nodeName: 'worker-1', reflectors: { mode: 'mesh' }, stateDir: '/var/lib/routelet', leaseGraceMs: 0 });
    expect(kubeSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, host).enabled).toBe(true);
    expect(kubeSettings({ KUBECONFIG: '/etc/kubeconfig' }, host).enabled).toBe(true);
    expect(kubeSettings({ KUBECONFIG: '/etc/kubeconfig', ROUTELET_KUBERNETES: 'off' }, host).enabled).toBe(false);
    expect(kubeSettings({ ROUTELET_KUBERNETES: 'on' }, host).enabled).toBe(true);
  });

  it('node name, reflectors, state dir and grace', () => {
    const s = kubeSettings({ ROUTELET_NODE_NAME: 'node-7', ROUTELET_RR_NODE_SELECTOR: 'routelet.io/rr=true', ROUTELET_STATE_DIR: '/run/routelet', ROUTELET_NODE_LEASE_GRACE: '10' }, host);
    expect(s).toMatchObject({ nodeName: 'node-7', reflectors: { mode: 'selector' }, stateDir: '/run/routelet', leaseGraceMs: 10_000 });
    expect(kubeSettings({ ROUTELET_RR_AUTO: '5' }, host).reflectors).toEqual({ mode: 'auto', count: 5 });
    expect(kubeSettings({ ROUTELET_RR_AUTO: 'on' }, host).reflectors).toEqual({ mode: 'auto', count: 3 });
    expect(kubeSettings({ ROUTELET_RR_AUTO: 'off' }, host).reflectors).toEqual({ mode: 'mesh' });
  });

  it('bad values name their variable', () => {
    const bad: [Record<string, string>, string][] = [
      [{ ROUTELET_KUBERNETES: 'maybe' }, 'ROUTELET_KUBERNETES'],
      [{ ROUTELET_NODE_NAME: 'Not_A_Name' }, 'ROUTELET_NODE_NAME'],
      [{ ROUTELET_RR_NODE_SELECTOR: 'a=b=c' }, 'ROUTELET_RR_NODE_SELECTOR'],
      [{ ROUTELET_RR_NODE_SELECTOR: 'rr', ROUTELET_RR_AUTO: '3' }, 'ROUTELET_RR_AUTO'],
      [{ ROUTELET_RR_AUTO: '0' }, 'ROUTELET_RR_AUTO'],
      [{ ROUTELET_STATE_DIR: 'relative' }, 'ROUTELET_STATE_DIR'],
      [{ ROUTELET_NODE_LEASE_GRACE: '-1' }, 'ROUTELET_NODE_LEASE_GRACE'],
    ];
    for (const [env, variable] of bad) {
      let err: unknown;
      try {
        kubeSettings(env, host);
      } catch (e) {
        err = e;
      }
      expect(err, variable).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
    }
  });
});
