// The simulator's documented default management credentials (docs/simulator.md). A module of its own
// so the CLI can show them in --help without loading the server.
export const DEFAULT_USER = 'admin@vancore.local';
export const DEFAULT_PASSWORD = 'vancore-sim';
