// The names `artifact build --revert-of` gives revert artifacts (docs/packaging.md "Revert artifacts"):
// `vancore-<component>-<previous>-revert-<bad>`. Kept apart so the soak gate and the revert planner
// share them without importing each other.

export function revertArtifactName(component: string, previous: string, bad: string): string {
  return `vancore-${component}-${previous}-revert-${bad}`;
}

/** Is `name` a revert artifact taking `component` back from version `bad`? */
export function isRevertOf(name: string, component: string, bad: string): boolean {
  return name.startsWith(`vancore-${component}-`) && name.endsWith(`-revert-${bad}`);
}
