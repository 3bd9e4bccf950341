import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { Agent } from "undici";
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { type HttpAttempt, HttpClient, type HttpClientOptions } from "#http/client.ts";
import {
  ConfigurationError,
  ConnectionError,
  DeadlineError,
  DeserializationError,
  HttpError,
  ResponseError,
  TimeoutError,
} from "#http/errors.ts";
import { forgetSecrets } from "#http/redact.ts";
// The providers' redaction rules (Everflow's X-Eflow-API-Key header among them), which the
// registry adds to the redactor when it loads, as it does in every function.
import "#providers/registry.ts";

interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  remotePort: number | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

interface FakeVendor {
  url: string;
  requests: ReceivedRequest[];
}

const closers: Array<() => Promise<void>> = [];
const dispatcher = new Agent();

/** A real HTTP server on 127.0.0.1 whose every answer the test decides; `index` counts from 0. */
async function startVendor(handler: Handler): Promise<FakeVendor> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        remotePort: req.socket.remotePort,
      });
      handler(req, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function never(): void {}

/** A client that records its waits instead of sleeping, with jitter fixed at its maximum. */
function clientFor(options: Partial<HttpClientOptions> = {}): { client: HttpClient; waits: number[] } {
  const waits: number[] = [];
  const client = new HttpClient({
    vendor: "TestVendor",
    dispatcher,
    endpointOverride: "",
    sleep: async (ms) => {
      waits.push(ms);
      // Yields to the event loop as a real wait would, so undici can put the socket back in its pool.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    random: () => 1,
    ...options,
  });
  return { client, waits };
}

async function failureOf(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

beforeEach(() => {
  forgetSecrets();
});

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

afterAll(async () => {
  await dispatcher.close();
});

describe("answers", () => {
  test("returns the parsed JSON body of a 2xx answer", async () => {
    const vendor = await startVendor((_req, res) => json(res, 200, { tokenId: "7f0c", active: true }));
    const { client } = clientFor();

    const response = await client.request<{ tokenId: string }>({
      method: "GET",
      url: `${vendor.url}/tokens/7f0c`,
    });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ tokenId: "7f0c", active: true });
    expect(response.headers["content-type"]).toBe("application/json");
    expect(vendor.requests[0]?.headers.accept).toBe("application/json");
  });

  test("returns an undefined body for 204 No Content", async () => {
    const vendor = await startVendor((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const { client } = clientFor();

    const response = await client.request({ method: "DELETE", url: `${vendor.url}/tokens/7f0c` });

    expect(response).toMatchObject({ status: 204, body: undefined });
  });

  test("returns an undefined body for a 200 with content-length 0", async () => {
    const vendor = await startVendor((_req, res) => {
      res.writeHead(200, { "content-length": "0" });
      res.end();
    });
    const { client } = clientFor();

    const response = await client.request({ method: "DELETE", url: `${vendor.url}/tokens/7f0c` });

    expect(response).toMatchObject({ status: 200, body: undefined });
  });

  test("sends the body as JSON and the query, with rawQuery verbatim", async () => {
    const vendor = await startVendor((_req, res) => json(res, 201, { id: "TKN-1111-2222" }));
    const { client } = clientFor();
    const rql = 'and(eq(status,Active),eq(account.id,"ACC-1234-5678"))';

    await client.request({
      method: "POST",
      url: `${vendor.url}/public/v1/accounts/api-tokens`,
      query: { select: "+audit", limit: "100" },
      rawQuery: rql,
      body: { name: "keyturn", modules: [{ id: "MOD-1" }] },
    });

    const received = vendor.requests[0];
    expect(received?.url).toBe(`/public/v1/accounts/api-tokens?select=%2Baudit&limit=100&${rql}`);
    expect(received?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(received?.body ?? "")).toEqual({ name: "keyturn", modules: [{ id: "MOD-1" }] });
  });

  test("returns the body as text when JSON is not expected", async () => {
    const vendor = await startVendor((_req, res) => res.end("pong"));
    const { client } = clientFor();

    const response = await client.request({ method: "GET", url: `${vendor.url}/ping`, expectJson: false });

    expect(response.body).toBe("pong");
  });

  test("reads error bodies to the end so that the retry reuses the socket", async () => {
    // Larger than undici's buffer, so an unread body would hold the socket.
    const largeProblem = { title: "Service Unavailable", detail: "x".repeat(1024 * 1024) };
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 503, largeProblem) : json(res, 200, {}),
    );
    const { client } = clientFor();

    await client.request({ method: "GET", url: `${vendor.url}/user` });

    expect(vendor.requests).toHaveLength(2);
    expect(vendor.requests[1]?.remotePort).toBe(vendor.requests[0]?.remotePort);
  });
});

describe("error kinds", () => {
  test("turns a 4xx into a non-retryable ResponseError carrying the problem details", async () => {
    const problem = {
      type: "about:blank",
      title: "Not Found",
      status: 404,
      detail: "Token TKN-1 does not exist",
    };
    const vendor = await startVendor((_req, res) => json(res, 404, problem));
    const { client } = clientFor();

    const error = await failureOf(
      client.request({ method: "GET", url: `${vendor.url}/tokens/TKN-1?select=x` }),
    );

    expect(error).toBeInstanceOf(ResponseError);
    expect(error).toMatchObject({
      name: "ResponseError",
      status: 404,
      retryable: false,
      problem,
      vendor: "TestVendor",
      method: "GET",
      url: `${vendor.url}/tokens/TKN-1`,
    });
    expect(error.message).toContain("TestVendor answered 404 to GET");
    expect(error.message).toContain("Not Found: Token TKN-1 does not exist");
    expect(vendor.requests).toHaveLength(1);
  });

  test("turns an HTML 502 page into a retryable ResponseError with a short text excerpt", async () => {
    const page = `<html><head><title>502 Bad Gateway</title><style>body{}</style></head><body><h1>502 Bad Gateway</h1>${"<p>padding</p>".repeat(200)}</body></html>`;
    const vendor = await startVendor((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end(page);
    });
    const { client } = clientFor({ maxRetries: 0 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(ResponseError);
    expect(error.retryable).toBe(true);
    const excerpt = (error as ResponseError).problem as string;
    expect(excerpt.startsWith("502 Bad Gateway 502 Bad Gateway padding")).toBe(true);
    expect(excerpt.length).toBeLessThanOrEqual(500);
    expect(excerpt).not.toContain("<");
  });

  test("reports malformed JSON in a 2xx answer as a DeserializationError", async () => {
    const vendor = await startVendor((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{tokenId: 7f0c}");
    });
    const { client } = clientFor();

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/tokens` }));

    expect(error).toBeInstanceOf(DeserializationError);
    expect(error).toMatchObject({ retryable: false, status: 200 });
    expect(error.message).toContain("it is malformed");
  });

  test("reports JSON cut short as a DeserializationError that does not quote the body", async () => {
    const vendor = await startVendor((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"tokenId":"7f0c","token":"fresh-unseen-');
    });
    const { client } = clientFor();

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/tokens` }));

    expect(error).toBeInstanceOf(DeserializationError);
    expect(error.message).toContain("it ends early");
    expect(inspect(error, { depth: null })).not.toContain("fresh-unseen");
  });

  test("reports a refused connection as a retryable ConnectionError", async () => {
    const vendor = await startVendor(never);
    await Promise.all(closers.splice(0).map((close) => close()));
    const { client } = clientFor({ maxRetries: 0 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("ECONNREFUSED");
  });

  test("reports a connection closed before the answer as a retryable ConnectionError", async () => {
    const vendor = await startVendor((req) => req.socket.destroy());
    const { client } = clientFor({ maxRetries: 0 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.retryable).toBe(true);
  });

  test("times out an attempt whose answer never starts", async () => {
    const vendor = await startVendor(never);
    const { client } = clientFor({ timeoutMs: 100, maxRetries: 1 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ name: "TimeoutError", retryable: true });
    expect(error.message).toContain("did not answer GET");
    expect(vendor.requests).toHaveLength(2);
  });

  test("times out an attempt whose body trickles in past the timeout", async () => {
    const vendor = await startVendor((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"items":[');
      const drip = setInterval(() => res.write("0,"), 20);
      res.on("close", () => clearInterval(drip));
    });
    const { client } = clientFor({ timeoutMs: 150, maxRetries: 0 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/tokens` }));

    expect(error).toBeInstanceOf(TimeoutError);
  });

  test("uses the request's own timeout over the client's", async () => {
    const vendor = await startVendor(never);
    const { client } = clientFor({ timeoutMs: 60_000, maxRetries: 0 });

    const error = await failureOf(
      client.request({ method: "GET", url: `${vendor.url}/user`, timeoutMs: 50 }),
    );

    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toContain("within 50 ms");
  });

  test("refuses to start an attempt when the Lambda is within its safety margin", async () => {
    const vendor = await startVendor((_req, res) => json(res, 200, {}));
    const { client } = clientFor({ remainingTimeMs: () => 1_500, safetyMarginMs: 2_000 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(DeadlineError);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ name: "DeadlineError", retryable: false });
    expect(vendor.requests).toHaveLength(0);
  });

  test("cuts an attempt short at the Lambda's deadline and does not retry it", async () => {
    const vendor = await startVendor(never);
    const { client, waits } = clientFor({ remainingTimeMs: () => 2_100, safetyMarginMs: 2_000 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(DeadlineError);
    expect(error.retryable).toBe(false);
    expect(vendor.requests).toHaveLength(1);
    expect(waits).toEqual([]);
  });
});

describe("retries", () => {
  test("retries a GET after a 503 and returns the later success", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 503, { title: "Unavailable" }) : json(res, 200, { ok: true }),
    );
    const { client, waits } = clientFor({ retryBaseMs: 200, random: () => 0.5 });

    const response = await client.request({ method: "GET", url: `${vendor.url}/user` });

    expect(response.body).toEqual({ ok: true });
    expect(waits).toEqual([100]);
  });

  test("retries a GET whose connection was reset", async () => {
    const vendor = await startVendor((req, res, index) =>
      index === 0 ? req.socket.destroy() : json(res, 200, { ok: true }),
    );
    const { client } = clientFor();

    const response = await client.request({ method: "GET", url: `${vendor.url}/user` });

    expect(response.body).toEqual({ ok: true });
    expect(vendor.requests).toHaveLength(2);
  });

  test("waits the delta-seconds of a 429's Retry-After before retrying", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 429, {}, { "retry-after": "2" }) : json(res, 200, {}),
    );
    const { client, waits } = clientFor({ random: () => 0 });

    await client.request({ method: "GET", url: `${vendor.url}/user` });

    expect(waits).toEqual([2_000]);
  });

  test("waits until the HTTP date of a 429's Retry-After before retrying", async () => {
    // Far enough ahead that a busy machine's delay before the client reads the date cannot
    // matter: an HTTP date has whole seconds, so the wait is 29 to 30 s less that delay.
    const retryAt = new Date(Date.now() + 30_000).toUTCString();
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 429, {}, { "retry-after": retryAt }) : json(res, 200, {}),
    );
    const { client, waits } = clientFor({ random: () => 0 });

    await client.request({ method: "GET", url: `${vendor.url}/user` });

    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(20_000);
    expect(waits[0]).toBeLessThanOrEqual(30_000);
  });

  test("gives up with the 429 when its Retry-After is beyond the time left", async () => {
    const vendor = await startVendor((_req, res) => json(res, 429, {}, { "retry-after": "60" }));
    const { client, waits } = clientFor({ remainingTimeMs: () => 30_000, safetyMarginMs: 2_000 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toBeInstanceOf(ResponseError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 60_000, retryable: true });
    expect(waits).toEqual([]);
    expect(vendor.requests).toHaveLength(1);
  });

  test("gives up with the last failure once retries are exhausted", async () => {
    const vendor = await startVendor((_req, res) => json(res, 503, { title: "Unavailable" }));
    const { client, waits } = clientFor({ maxRetries: 2 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(error).toMatchObject({ name: "ResponseError", status: 503, retryable: true });
    expect(vendor.requests).toHaveLength(3);
    expect(waits).toHaveLength(2);
  });

  test("backs off exponentially, capped at retryMaxMs", async () => {
    const vendor = await startVendor((_req, res) => json(res, 504, {}));
    const { client, waits } = clientFor({ maxRetries: 4, retryBaseMs: 100, retryMaxMs: 300 });

    await failureOf(client.request({ method: "GET", url: `${vendor.url}/user` }));

    expect(waits).toEqual([100, 200, 300, 300]);
  });

  test.each([500, 502, 503, 504])("does not repeat a POST answered with %i", async (status) => {
    const vendor = await startVendor((_req, res) => json(res, status, {}));
    const { client } = clientFor();

    const error = await failureOf(client.request({ method: "POST", url: `${vendor.url}/tokens`, body: {} }));

    expect(error).toMatchObject({ status });
    expect(vendor.requests).toHaveLength(1);
  });

  test("does not repeat a POST that timed out", async () => {
    const vendor = await startVendor(never);
    const { client } = clientFor({ timeoutMs: 100 });

    const error = await failureOf(client.request({ method: "POST", url: `${vendor.url}/tokens`, body: {} }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect(vendor.requests).toHaveLength(1);
  });

  test("does not repeat a POST whose connection was reset", async () => {
    const vendor = await startVendor((req) => req.socket.destroy());
    const { client } = clientFor();

    const error = await failureOf(client.request({ method: "POST", url: `${vendor.url}/tokens`, body: {} }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect(vendor.requests).toHaveLength(1);
  });

  test("repeats a POST turned away with 429", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 429, {}, { "retry-after": "1" }) : json(res, 201, { tokenId: "7f0c" }),
    );
    const { client, waits } = clientFor();

    const response = await client.request({ method: "POST", url: `${vendor.url}/tokens`, body: {} });

    expect(response).toMatchObject({ status: 201, body: { tokenId: "7f0c" } });
    expect(waits).toEqual([1_000]);
  });

  test("repeats a POST the caller marks idempotent", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 503, {}) : json(res, 200, { schemasDetails: [] }),
    );
    const { client } = clientFor();

    const response = await client.request({
      method: "POST",
      url: `${vendor.url}/api/v2/tenant/schema/list`,
      body: { limit: 1 },
      idempotent: true,
    });

    expect(response.status).toBe(200);
    expect(vendor.requests).toHaveLength(2);
  });

  test("reports every attempt to onAttempt", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 503, {}) : json(res, 200, {}),
    );
    const attempts: HttpAttempt[] = [];
    const { client } = clientFor({ onAttempt: (attempt) => attempts.push(attempt) });

    await client.request({ method: "GET", url: `${vendor.url}/user?verbose=1` });

    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ method: "GET", url: `${vendor.url}/user`, attempt: 1, status: 503 });
    expect(attempts[0]?.error).toBeInstanceOf(ResponseError);
    expect(attempts[1]).toMatchObject({ attempt: 2, status: 200 });
    expect(attempts[1]?.error).toBeUndefined();
    expect(attempts[1]?.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("where requests may go", () => {
  test("refuses plain http to a host that is not loopback", async () => {
    const { client } = clientFor();

    const error = await failureOf(
      client.request({ method: "GET", url: "http://api.eflow.team/v1/partners?api_key=k" }),
    );

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("TestVendor");
    expect(error.message).toContain("http://api.eflow.team/v1/partners");
  });

  test("allows plain http to a loopback address", async () => {
    const vendor = await startVendor((_req, res) => json(res, 200, {}));
    const { client } = clientFor();

    const response = await client.request({ method: "GET", url: `${vendor.url}/partners` });

    expect(response.status).toBe(200);
  });

  test("sends a vendor URL to the endpoint override, routed by the vendor's host", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 200, { data: [] }) : json(res, 404, { title: "Not Found" }),
    );
    const { client } = clientFor({ endpointOverride: `${vendor.url}/` });
    const canonical = "https://api.platform.softwareone.com/public/v1/accounts/api-tokens";

    await client.request({ method: "GET", url: `${canonical}?limit=1` });
    const error = await failureOf(client.request({ method: "GET", url: `${canonical}/TKN-0000-0000` }));

    expect(vendor.requests[0]?.url).toBe(
      "/api.platform.softwareone.com/public/v1/accounts/api-tokens?limit=1",
    );
    expect(error.url).toBe(`${canonical}/TKN-0000-0000`);
    expect(error.message).toContain(canonical);
    expect(error.message).not.toContain("127.0.0.1");
  });

  test("reads the endpoint override from KEYTURN_VENDOR_ENDPOINT by default", async () => {
    const vendor = await startVendor((_req, res) => json(res, 200, {}));
    vi.stubEnv("KEYTURN_VENDOR_ENDPOINT", vendor.url);
    try {
      const client = new HttpClient({ vendor: "Everflow", dispatcher });

      await client.request({ method: "GET", url: "https://api.eflow.team/v1/partners" });

      expect(vendor.requests[0]?.url).toBe("/api.eflow.team/v1/partners");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test("refuses an endpoint override that is not on loopback", () => {
    const create = () =>
      new HttpClient({ vendor: "Everflow", endpointOverride: "https://simulator.example.com" });

    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(/loopback/);
  });

  test("does not follow a redirect, so Authorization never reaches the other host", async () => {
    const elsewhere = await startVendor((_req, res) => json(res, 200, {}));
    const vendor = await startVendor((_req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/collect?from=keyturn` });
      res.end();
    });
    const { client } = clientFor();

    const error = await failureOf(
      client.request({
        method: "GET",
        url: `${vendor.url}/user`,
        headers: { Authorization: "Bearer pat-0123456789" },
      }),
    );

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`redirected GET ${vendor.url}/user (302) to ${elsewhere.url}/collect;`);
    expect(elsewhere.requests).toHaveLength(0);
    expect(vendor.requests).toHaveLength(1);
  });
});

// How a vendor's error body reads is the provider's to say (its `summarizeProblem`, passed with
// each request); the client's own summary covers RFC 7807 and OAuth-style bodies.
describe("error-body summaries", () => {
  const body = { title: "Unauthorized", fault: { reason: "key revoked" } };
  const faultOf = (problem: unknown) =>
    `fault: ${(problem as { fault?: { reason?: string } }).fault?.reason ?? ""}`;

  test("the default reads RFC 7807 and OAuth-style fields", async () => {
    const vendor = await startVendor((_req, res) => json(res, 401, body));
    const { client } = clientFor();

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/me` }));

    expect(error.message).toContain("answered 401 to GET");
    expect(error.message).toContain(": Unauthorized.");
    expect(error.message).not.toContain("key revoked");
  });

  test("a request's summary replaces the default, and is redacted", async () => {
    const secret = "vendor-echoed-secret-0123456789";
    const vendor = await startVendor((req, res) =>
      json(res, 401, { ...body, fault: { reason: `key revoked ${req.headers.authorization}` } }),
    );
    const { client } = clientFor();

    const error = await failureOf(
      client.request({
        method: "GET",
        url: `${vendor.url}/me`,
        headers: { authorization: `Bearer ${secret}` },
        summarizeProblem: faultOf,
      }),
    );

    expect(error.message).toContain(": fault: key revoked [REDACTED].");
    expect(error.message).not.toContain(secret);
  });

  test("a summary that finds nothing or throws leaves the body to the default", async () => {
    const vendor = await startVendor((_req, res) => json(res, 401, body));
    const { client } = clientFor();

    const empty = await failureOf(
      client.request({ method: "GET", url: `${vendor.url}/me`, summarizeProblem: () => "" }),
    );
    const throwing = await failureOf(
      client.request({
        method: "GET",
        url: `${vendor.url}/me`,
        summarizeProblem: () => {
          throw new Error("not this vendor's shape");
        },
      }),
    );

    expect(empty.message).toContain(": Unauthorized.");
    expect(throwing.message).toContain(": Unauthorized.");
  });
});

describe("secrets", () => {
  const BEARER_SECRET = "pat-4f9a0c1e7b2d4e8f";
  const QUERY_SECRET = "qk-77c1d3e5f7a9";
  const EVERFLOW_SECRET = "eflow-5a6b7c8d9e0f";

  const scenarios: Array<[string, Handler]> = [
    [
      "a 401 that echoes them in JSON",
      (req, res) =>
        json(res, 401, {
          message: `Not authenticated: ${req.headers.authorization} ${req.headers["x-eflow-api-key"]}`,
          error: `bad key ${QUERY_SECRET}`,
          seen: req.headers,
        }),
    ],
    [
      "a 502 page that echoes them in HTML",
      (req, res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end(`<p>${req.url} ${req.headers.authorization} ${req.headers["x-eflow-api-key"]}</p>`);
      },
    ],
    [
      "a 200 whose body is not JSON",
      (req, res) => res.end(`oops ${req.url} ${req.headers.authorization} ${req.headers["x-eflow-api-key"]}`),
    ],
    ["a reset connection", (req) => req.socket.destroy()],
    ["a timeout", never],
  ];

  test.each(scenarios)("never shows them in errors or diagnostics after %s", async (_name, handler) => {
    const vendor = await startVendor(handler);
    const attempts: HttpAttempt[] = [];
    const { client } = clientFor({ timeoutMs: 100, maxRetries: 1, onAttempt: (a) => attempts.push(a) });

    const error = await failureOf(
      client.request({
        method: "GET",
        url: `${vendor.url}/v1/partners/${QUERY_SECRET}?token=${QUERY_SECRET}`,
        query: { api_key: QUERY_SECRET },
        headers: { Authorization: `Bearer ${BEARER_SECRET}`, "X-Eflow-API-Key": EVERFLOW_SECRET },
      }),
    );

    const shown = [
      error.message,
      String(error),
      JSON.stringify(error),
      inspect(error, { depth: null }),
      JSON.stringify(attempts),
      inspect(attempts, { depth: null }),
    ].join("\n");
    expect(attempts.length).toBeGreaterThan(0);
    for (const secret of [BEARER_SECRET, QUERY_SECRET, EVERFLOW_SECRET]) {
      expect(shown).not.toContain(secret);
    }
  });
});

// Everflow (https://developers.everflow.io/user-guide/rate-limiting) documents X-RateLimit-Limit and
// X-RateLimit-Remaining and a 429 with no Retry-After; X-RateLimit-Reset is not documented, so both
// of its common meanings are read.
describe("rate limits without Retry-After", () => {
  const exhausted = { "x-ratelimit-limit": "150", "x-ratelimit-remaining": "0" };

  test("waits until an X-RateLimit-Reset given in epoch seconds", async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 20;
    const vendor = await startVendor((_req, res, index) =>
      index === 0
        ? json(res, 429, {}, { ...exhausted, "x-ratelimit-reset": String(resetAt) })
        : json(res, 200, {}),
    );
    const { client, waits } = clientFor({ random: () => 0 });

    await client.request({ method: "GET", url: `${vendor.url}/v1/partners` });

    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(18_000);
    expect(waits[0]).toBeLessThanOrEqual(21_000);
  });

  test("waits the seconds left of a small X-RateLimit-Reset", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 429, {}, { ...exhausted, "x-ratelimit-reset": "7" }) : json(res, 200, {}),
    );
    const { client, waits } = clientFor({ random: () => 0 });

    await client.request({ method: "GET", url: `${vendor.url}/v1/partners` });

    expect(waits).toEqual([7_000]);
  });

  test("waits the vendor's rate-limit window when a 429 says nothing about when to come back", async () => {
    const vendor = await startVendor((_req, res, index) =>
      index === 0 ? json(res, 429, { error: "Too Many Requests" }, exhausted) : json(res, 200, {}),
    );
    const { client, waits } = clientFor({ random: () => 0 });

    const response = await client.request({
      method: "GET",
      url: `${vendor.url}/v1/partners`,
      rateLimitWindowMs: 30_000,
    });

    expect(response.status).toBe(200);
    expect(waits).toEqual([30_000]);
  });

  test("gives up with the 429 at once when the reset comes after the Lambda's deadline", async () => {
    const vendor = await startVendor((_req, res) =>
      json(res, 429, {}, { ...exhausted, "x-ratelimit-reset": "20" }),
    );
    const { client, waits } = clientFor({ remainingTimeMs: () => 12_000, safetyMarginMs: 2_000 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/v1/partners` }));

    expect(error).toBeInstanceOf(ResponseError);
    expect(error).toMatchObject({ status: 429, retryable: true, rateLimitResetMs: 20_000 });
    expect(waits).toEqual([]);
    expect(vendor.requests).toHaveLength(1);
  });

  test("gives up with the 429 rather than wait longer than maxRateLimitWaitMs", async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 3_600;
    const vendor = await startVendor((_req, res) =>
      json(res, 429, {}, { ...exhausted, "x-ratelimit-reset": String(resetAt) }),
    );
    const { client, waits } = clientFor({ maxRateLimitWaitMs: 60_000 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/v1/partners` }));

    expect(error).toMatchObject({ status: 429 });
    expect(waits).toEqual([]);
    expect(vendor.requests).toHaveLength(1);
  });

  test("says in the 429's message what the rate-limit headers said", async () => {
    const vendor = await startVendor((_req, res) =>
      json(res, 429, { error: "Too Many Requests" }, exhausted),
    );
    const { client } = clientFor({ maxRetries: 0 });

    const error = await failureOf(client.request({ method: "GET", url: `${vendor.url}/v1/partners` }));

    expect(error.message).toContain("X-RateLimit-Remaining 0 of 150");
    expect(error.message).toContain("no Retry-After");
  });
});

describe("plain http to a named host", () => {
  test("is sent only for a request that says allowPlainHttp, and refused otherwise", async () => {
    const vendor = await startVendor((_req, res) => json(res, 200, { ok: true }));
    const { client } = clientFor({ endpointOverride: vendor.url });
    const url = "http://incorta.corp.example:8080/incorta/api/v2/demo/schema/list";

    const allowed = await client.request({ method: "GET", url, allowPlainHttp: true });
    const refused = await failureOf(client.request({ method: "GET", url }));

    expect(allowed.body).toEqual({ ok: true });
    expect(vendor.requests[0]?.url).toBe("/incorta.corp.example:8080/incorta/api/v2/demo/schema/list");
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect(vendor.requests).toHaveLength(1);
  });
});
