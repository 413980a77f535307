/**
 * The port the OpenAI-compatible API server (`clemplay api`, "Serve models to other apps" in Settings) listens on
 * unless told otherwise: fixed, so that clients configured once keep working, and not llama.cpp's 8080.
 */
export const defaultApiPort = 41707;
