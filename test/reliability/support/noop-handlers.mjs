// A GITROAST_HANDLERS module with one handler, `reliability.noop`, that completes at once.
export function register(registry) {
  registry.register('reliability.noop', { handle: async () => undefined });
}
