/** The read token: from the URL fragment (`#token=...`, then removed from the address bar) or this tab's sessionStorage. */
const STORAGE_KEY = 'fedkd.dashboard.token';

export function initialToken(): string | null {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (match) {
    const token = decodeURIComponent(match[1]).trim();
    storeToken(token);
    // The token leaves the address bar (and the history), so it is not copied along with the URL.
    history.replaceState(null, '', location.pathname + location.search);
    return token || null;
  }
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(STORAGE_KEY, token);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage may be disabled: the token then lives for this page only.
  }
}

export function authHeaders(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GETs a read route with the token; throws with the coordinator's message on a refusal. */
export async function fetchBlob(url: string, token: string | null): Promise<Blob> {
  const response = await fetch(url, { headers: authHeaders(token), cache: 'no-store' });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { message?: string };
      if (body.message) message = `${message}: ${body.message}`;
    } catch {
      // not JSON
    }
    throw new Error(message);
  }
  return response.blob();
}

/** Downloads a read route as a file (a plain link cannot send the Authorization header). */
export async function download(url: string, filename: string, token: string | null): Promise<void> {
  const blob = await fetchBlob(url, token);
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
