// Rendezvous routing: stable, spread over the fleet, and minimal movement when a replica goes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rankEndpoints } from '../../src/fleet/route.js';

const fleet = [0, 1, 2].map((n) => `tcp://buildkitd-${n}.buildkitd.buildkit.svc:1234`);
// Computed once from the implementation: a change of the hash or of the tie-break shows up here.
const PINNED = [0, 2, 1];
const keys = Array.from({ length: 3000 }, (_, i) => `registry.example.com/team/app-${i}`);

describe('rankEndpoints', () => {
  test('a fixed key always gets the same order (pinned, so a change of the hash is a visible break)', () => {
    const order = rankEndpoints(fleet, 'registry.example.com/team/app');
    assert.deepEqual(rankEndpoints(fleet, 'registry.example.com/team/app'), order);
    assert.deepEqual(
      rankEndpoints([...fleet].reverse(), 'registry.example.com/team/app'),
      order,
      'the list order does not matter',
    );
    assert.deepEqual(
      order.map((endpoint) => fleet.indexOf(endpoint)),
      PINNED,
    );
  });

  test('every endpoint once, duplicates dropped', () => {
    assert.deepEqual(rankEndpoints([...fleet, fleet[0]!], 'k').sort(), [...fleet].sort());
    assert.deepEqual(rankEndpoints([], 'k'), []);
  });

  test('keys spread evenly: each of 3 replicas gets 33 % ± 3 % of 3000 keys as first choice', () => {
    const counts = new Map<string, number>();
    for (const key of keys) {
      const first = rankEndpoints(fleet, key)[0]!;
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    for (const endpoint of fleet) {
      const share = (counts.get(endpoint) ?? 0) / keys.length;
      assert.ok(Math.abs(share - 1 / 3) < 0.03, `${endpoint}: ${(share * 100).toFixed(1)} %`);
    }
  });

  test('removing a replica moves only its keys, each to its own second choice', () => {
    const gone = fleet[1]!;
    const rest = fleet.filter((endpoint) => endpoint !== gone);
    for (const key of keys) {
      const before = rankEndpoints(fleet, key);
      const after = rankEndpoints(rest, key);
      assert.deepEqual(
        after,
        before.filter((endpoint) => endpoint !== gone),
        key,
      );
    }
  });

  test('adding a replica takes about a quarter of the keys and moves no key between the old ones', () => {
    const grown = [...fleet, 'tcp://buildkitd-3.buildkitd.buildkit.svc:1234'];
    let moved = 0;
    for (const key of keys) {
      const before = rankEndpoints(fleet, key)[0];
      const after = rankEndpoints(grown, key)[0];
      if (before !== after) {
        moved++;
        assert.equal(after, grown[3], key);
      }
    }
    assert.ok(Math.abs(moved / keys.length - 0.25) < 0.03, `${moved} of ${keys.length} moved`);
  });
});
