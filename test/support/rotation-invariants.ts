// The rotation invariants (docs/architecture.md, "Rotation"; docs/testing.md, "Reliability"),
// checked on a world after rotations:
//
//   - AWSCURRENT authenticates at the vendor;
//   - once the rotation finished, no AWSPENDING is left on a version that is not AWSCURRENT;
//   - at most two live keys per credential;
//   - every live key keyturn minted is referenced by a secret version.
//
// One check for the integration tests (./immuta-fixture.ts) and the crash sweep
// (test/reliability/crash.ts), so that both hold keyturn to the same promises. Free of vitest:
// `npm run sweep` runs the crash sweep outside it.

import type { StoredValue } from "#sandbox/local-keyturn.ts";

/** What the invariants read of the world: a secret's versions and their labels, and their values. */
export interface SecretVersions {
  /** Version id -> staging labels, deprecated versions included. */
  stages(secretId: string): Promise<Record<string, string[]>>;
  /** AWSCURRENT's value, or the version named. */
  read(secretId: string, versionId?: string): Promise<StoredValue>;
}

/** What the invariants ask of the vendor. */
export interface VendorKeys {
  /** Does the key in this secret value authenticate now? */
  isLive(value: StoredValue): boolean;
  /** Live keys that belong to the credential: its first key and every one minted for it. */
  liveKeysOf(credential: string): number;
  /** Keys keyturn minted (a marker in their description) that the vendor accepts now. */
  liveMintedKeys(): { keyId: string; description: string }[];
}

/** The key ids the secrets' versions hold, deprecated versions included. */
export async function referencedKeyIds(
  world: SecretVersions,
  secretIds: readonly string[],
): Promise<Set<string>> {
  const referenced = new Set<string>();
  for (const secretId of secretIds) {
    for (const versionId of Object.keys(await world.stages(secretId))) {
      referenced.add((await world.read(secretId, versionId)).keyId);
    }
  }
  return referenced;
}

/** The invariants that do not hold for these secrets, one line each (empty when all hold). */
export async function rotationInvariantViolations(
  world: SecretVersions,
  vendor: VendorKeys,
  secretIds: readonly string[],
  options: { rotationFinished?: boolean } = {},
): Promise<string[]> {
  const violations: string[] = [];
  for (const secretId of secretIds) {
    const versions = Object.entries(await world.stages(secretId));
    for (const [versionId, labels] of versions) {
      if (options.rotationFinished && labels.includes("AWSPENDING") && !labels.includes("AWSCURRENT")) {
        violations.push(`${secretId}: AWSPENDING left on version ${versionId} after the rotation finished`);
      }
    }
    if (!vendor.isLive(await world.read(secretId))) {
      violations.push(`${secretId}: AWSCURRENT does not authenticate at the vendor`);
    }
    const live = vendor.liveKeysOf(secretId);
    if (live > 2) violations.push(`${secretId}: ${live} live keys (at most two outside a rotation)`);
  }
  const referenced = await referencedKeyIds(world, secretIds);
  for (const key of vendor.liveMintedKeys()) {
    if (!referenced.has(key.keyId)) {
      violations.push(`live minted key ${key.keyId} (${key.description}) is referenced by no secret version`);
    }
  }
  return violations;
}
