// The tracking marker keyturn stores with every key it mints (in the vendor's description
// field): `keyturn:<credential>:<versionId>`, so that a key minted but never stored can be
// found by listing. One place for its format: the engine writes and reads it, providers
// recognise it in listings.

const PREFIX = "keyturn:";

export function rotationMarker(credential: string, versionId: string): string {
  return `${PREFIX}${credential}:${versionId}`;
}

/** The description as a marker when it is one of keyturn's, else undefined. */
export function markerIn(description: string | null | undefined): string | undefined {
  return description?.startsWith(PREFIX) ? description : undefined;
}

/** Splits a marker; credential names may contain colons, version ids do not. */
export function parseMarker(marker: string): { credential: string; versionId: string } | undefined {
  if (!marker.startsWith(PREFIX)) return undefined;
  const rest = marker.slice(PREFIX.length);
  const cut = rest.lastIndexOf(":");
  if (cut <= 0) return undefined;
  return { credential: rest.slice(0, cut), versionId: rest.slice(cut + 1) };
}
