// The error every keyturn construct throws for props it cannot deploy: a message naming the prop
// and what to write instead, at synth rather than halfway through a deploy.

export class InvalidKeyturnPropsError extends Error {
  override readonly name = "InvalidKeyturnPropsError";
}
