import { describe, expect, it } from 'vitest';
import { formIdentity, primaryMac, type NetInterface } from '../../../agent-hooks/identity/identity.js';

const nic = (over: Partial<NetInterface>): NetInterface => ({
  name: 'eth0',
  ifindex: 2,
  address: '02:00:00:00:00:02',
  type: 1,
  physical: true,
  addrAssignType: 0,
  ...over,
});

describe('primaryMac', () => {
  it.each<[string, NetInterface[], string | undefined]>([
    ['the only physical NIC', [nic({})], '02:00:00:00:00:02'],
    [
      'the lowest ifindex among physical NICs',
      [nic({ name: 'wlan0', ifindex: 3, address: '02:00:00:00:00:03' }), nic({ name: 'enp1s0', ifindex: 2 })],
      '02:00:00:00:00:02',
    ],
    [
      'skips loopback, bridges, veths and raw-IP modems',
      [
        nic({ name: 'lo', ifindex: 1, address: '00:00:00:00:00:00', type: 772, physical: false }),
        nic({ name: 'docker0', ifindex: 2, address: '02:42:00:00:00:01', physical: false }),
        nic({ name: 'wwan0', ifindex: 3, address: '02:00:00:00:00:09', type: 519 }),
        nic({ name: 'wlan0', ifindex: 5, address: '02:00:00:00:00:05' }),
      ],
      '02:00:00:00:00:05',
    ],
    [
      'prefers a burned-in address over a random one with a lower index',
      [
        nic({ ifindex: 2, address: '5a:00:00:00:00:02', addrAssignType: 1 }),
        nic({ name: 'wlan0', ifindex: 4, address: '02:00:00:00:00:04' }),
      ],
      '02:00:00:00:00:04',
    ],
    ['none at all', [nic({ physical: false })], undefined],
    ['an all-zero address is no identity', [nic({ address: '00:00:00:00:00:00' })], undefined],
  ])('%s', (_what, list, want) => {
    expect(primaryMac(list)).toBe(want);
  });
});

describe('formIdentity', () => {
  it.each<[string, Parameters<typeof formIdentity>[0], string]>([
    [
      'no van id anywhere',
      { interfaces: [nic({})] },
      'no van id: set van_id in ota.yaml or write it to /etc/vancore/van-id',
    ],
    ['an empty van-id file', { fileVanId: '', interfaces: [nic({})] }, 'no van id'],
    ['a van id with a newline inside', { fileVanId: 'van 1\nx=y', interfaces: [nic({})] }, 'is not valid'],
    ['no NIC', { fileVanId: 'van-1', interfaces: [] }, 'no primary MAC'],
  ])('fails clearly: %s', (_what, facts, message) => {
    expect(() => formIdentity(facts)).toThrow(message);
  });

  it('takes ota.yaml van_id over the file, and is stable for the same facts', () => {
    const facts = { configVanId: 'van-0381', fileVanId: 'van-0001', interfaces: [nic({})] };
    expect(formIdentity(facts)).toEqual({ mac: '02:00:00:00:00:02', van_id: 'van-0381' });
    expect(formIdentity(facts)).toEqual(formIdentity({ ...facts, interfaces: [...facts.interfaces].reverse() }));
  });
});
