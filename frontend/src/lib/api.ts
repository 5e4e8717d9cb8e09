// The generated client (src/client, from the API's OpenAPI document), configured once:
// same-origin base URL, the bearer token, and errors turned into ApiError.
import { client } from "@/client/client.gen";

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

let currentToken: string | null = null;

export function setToken(token: string | null) {
  currentToken = token;
}

client.setConfig({
  baseUrl: "",
  auth: () => currentToken ?? undefined,
});

interface Result<T> {
  data?: T;
  error?: unknown;
  response?: Response;
}

function problemDetail(error: unknown): string | undefined {
  if (error && typeof error === "object") {
    const e = error as { detail?: unknown; title?: unknown };
    if (typeof e.detail === "string") return e.detail;
    if (Array.isArray(e.detail)) return "the request was refused as invalid";
    if (typeof e.title === "string") return e.title;
  }
  return undefined;
}

/** Await a generated SDK call and return its data, or throw an ApiError. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "the API cannot be reached");
  }
  const status = result.response?.status ?? 0;
  if (result.error !== undefined || !result.response?.ok) {
    throw new ApiError(status, problemDetail(result.error) ?? `the API answered ${status}`);
  }
  return result.data as T;
}
