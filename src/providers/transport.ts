/** One HTTP request as a provider adapter sends it. */
export interface TransportRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Aborting cancels the request and, after headers, the body stream. */
  signal: AbortSignal;
}

/** Response headers as adapters read them, by case-insensitive name. A fetch `Headers` is one. */
export interface ResponseHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
}

/** The response: status and headers at once, the body as a byte stream. */
export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  /**
   * The body, chunk by chunk, read once. Adapters read every body this way, also the ones they
   * need whole, so that they can stop at a size limit.
   */
  body: AsyncIterable<Uint8Array>;
}

/**
 * The seam between adapters and the network. The default is global `fetch` (portable);
 * the gateway may plug in a pooled client. A transport only moves bytes: it never retries,
 * and it rejects (with the signal's reason on abort) only when no response arrived.
 */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** A {@link Transport} on the global `fetch`. */
export const fetchTransport: Transport = async (request) => {
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: readBody(response),
  };
};

async function* readBody(response: Response): AsyncIterable<Uint8Array> {
  if (!response.body) return;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Releases the connection when the consumer stops early (abort, error, break).
    reader.cancel().catch(() => {});
  }
}
