/** Placeholder: the deploy tests need no shared teardown (the real one arrives with the emulator tests). */
export default async function globalTeardown(): Promise<void> {}
