// Calls to the crewtrack API (same origin, /api/v1) with the technician's token.

import type { Problem } from "./types";

export const API = "/api/v1";

/** The answer of a call that reached the server (any status). */
export interface Answer {
  status: number;
  body: unknown;
}

/** The call never reached the server (offline, DNS, connection reset). */
export class NetworkError extends Error {}

export type Fetcher = typeof fetch;

export interface CallOptions {
  method?: string;
  token?: string | null;
  json?: unknown;
  body?: BodyInit;
  contentType?: string;
  idempotencyKey?: string;
}

export async function call(
  fetcher: Fetcher,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers["Content-Type"] = options.contentType;
  }
  let response: Response;
  try {
    response = await fetcher(API + path, { method: options.method ?? "GET", headers, body });
  } catch (exc) {
    throw new NetworkError(String(exc));
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed };
}

export function problemOf(answer: Answer): Problem {
  const body = (answer.body ?? {}) as Partial<Problem>;
  return {
    status: answer.status,
    title: body.title ?? `HTTP ${answer.status}`,
    detail: body.detail,
    blocking_items: body.blocking_items,
    errors: body.errors,
  };
}

/** What a person reads about a refusal: the detail, then each blocking item or error. */
export function problemLines(problem: Problem): string[] {
  const lines = [problem.detail ?? problem.title];
  for (const item of problem.blocking_items ?? []) lines.push(item.message);
  for (const error of problem.errors ?? []) lines.push(`${error.pointer}: ${error.detail}`);
  return lines;
}
