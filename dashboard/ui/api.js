// The dashboard API (/api/v1, described at /api/v1/openapi.json): the only way the UI reaches the host.

/** An API failure: the coded error from the host. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error && typeof error.message === 'string' ? error.message : `HTTP ${status}`);
    this.status = status;
    this.code = error && typeof error.code === 'string' ? error.code : 'BH_HTTP_' + status;
    this.detail = error && typeof error.detail === 'string' ? error.detail : undefined;
  }
}

/** Calls the API with JSON; answers the parsed body or throws an ApiError. */
export async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1${path}`, init);
  const text = await response.text();
  let parsed;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) throw new ApiError(response.status, parsed && parsed.error);
  return parsed;
}
