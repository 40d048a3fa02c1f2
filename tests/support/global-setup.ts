/** Placeholder: the deploy tests need no shared setup (the real one arrives with the emulator tests). */
export default async function globalSetup(): Promise<void> {}
