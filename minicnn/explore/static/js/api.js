// The explorer's JSON API (documented in minicnn/explore/__init__.py), and its arrays.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
  if (!response.ok) throw new ApiError(response.status, body.error || response.statusText);
  return body;
}

export async function getJSON(path) {
  return answer(await fetch(path, { headers: { Accept: "application/json" } }));
}

export async function postJSON(path, body) {
  return answer(await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  }));
}

const TYPES = { float32: Float32Array, float64: Float64Array, uint8: Uint8Array };

// {"shape", "dtype", "data": base64 of the little-endian bytes} -> {shape, data: TypedArray}.
// The values are the server's own float32 numbers, bit for bit.
export function decode(encoded) {
  if (!encoded) return null;
  const text = atob(encoded.data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return { shape: encoded.shape, data: new TYPES[encoded.dtype](bytes.buffer) };
}

export function decodeAll(table) {
  const result = {};
  for (const [key, value] of Object.entries(table || {})) result[key] = decode(value);
  return result;
}
