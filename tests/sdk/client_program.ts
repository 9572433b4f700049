// A client team's program: openapi-fetch over the openapi-typescript types of the contract
// (build/sdk/typescript/api.ts), driving the flow against a live server. Every path,
// parameter, body and answer is typed from the contract; nothing here is written by hand
// but the flow. `make test` compiles it with `tsc --strict` and runs it with Node
// (tests/sdk/test_sdk.py): node client_program.js http://127.0.0.1:8000
import createClient from "openapi-fetch";
import type { paths } from "../../build/sdk/typescript/api";

// Node's globals this program uses (no @types/node: one dependency fewer to pin).
declare const process: { argv: string[]; exit(code: number): never };

const base = process.argv[2];
if (!base) throw new Error("usage: node client_program.js BASE_URL");
const baseUrl = `${base}/api`;
const stamp = Date.now().toString(36);

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`not as the contract says: ${what}`);
}

async function signedUp(name: string): Promise<{ id: string; token: string }> {
  const anyone = createClient<paths>({ baseUrl });
  const email = `${name.toLowerCase()}-${stamp}@example.com`;
  const password = "Analytical-Engine-1843";
  const user = await anyone.POST("/users", { body: { name, email, password } });
  check(user.response.status === 201 && user.data, `sign-up: ${user.response.status}`);
  const token = await anyone.POST("/tokens", { body: { email, password } });
  check(token.data, `log-in: ${token.response.status}`);
  return { id: user.data.data.id, token: token.data.data.token };
}

async function main(): Promise<void> {
  const ada = await signedUp("Ada");
  const grace = await signedUp("Grace");
  const asAda = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${ada.token}` } });
  const asGrace = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${grace.token}` },
  });

  // A create that is safe to repeat: the same Idempotency-Key replays the first answer.
  const key = `ts-${stamp}`;
  const body = { title: "Notes", content: "On the Analytical Engine.", status: "published" as const };
  const created = await asAda.POST("/posts", { params: { header: { "Idempotency-Key": key } }, body });
  const again = await asAda.POST("/posts", { params: { header: { "Idempotency-Key": key } }, body });
  check(created.data && again.data, "create post");
  check(again.response.headers.get("Idempotent-Replayed") === "true", "replayed create");
  const postId = created.data.data.id;
  check(again.data.data.id === postId, "the same post");

  // Read with its ETag, write only that version (If-Match), and see a stale one refused.
  const read = await asAda.GET("/posts/{id}", { params: { path: { id: postId } } });
  const etag = read.response.headers.get("ETag");
  check(read.data && etag, "read post with ETag");
  const patched = await asAda.PATCH("/posts/{id}", {
    params: { path: { id: postId }, header: { "If-Match": etag } },
    body: { title: "Notes, revised" },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  check(patched.data?.data.title === "Notes, revised", `patch: ${patched.response.status}`);
  const stale = await asAda.PATCH("/posts/{id}", {
    params: { path: { id: postId }, header: { "If-Match": etag } },
    body: { title: "Lost update" },
    headers: { "Content-Type": "application/merge-patch+json" },
  });
  check(stale.response.status === 412 && stale.error?.error.code === "PRECONDITION_FAILED", "412");

  // Grace comments; Ada is notified, and marks it read.
  const comment = await asGrace.POST("/posts/{id}/comments", {
    params: { path: { id: postId } },
    body: { body: "Could it compose music?" },
  });
  check(comment.data, `comment: ${comment.response.status}`);
  const unread = await asAda.GET("/notifications", { params: { query: { unread: true } } });
  check(unread.data && unread.data.data.length >= 1, "a notification");
  const marked = await asAda.POST("/notifications/read", { body: { all: true } });
  check(marked.data && marked.data.data.changed >= 1, "marked read");

  // A cursor walk: each page's nextCursor until null, no item twice.
  await asAda.POST("/posts", { body: { title: "Second", content: "Bernoulli numbers." } });
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 0; pages < 50; pages += 1) {
    const query = cursor === undefined ? { limit: 1 } : { limit: 1, cursor };
    const page = await asAda.GET("/users/{id}/posts", { params: { path: { id: ada.id }, query } });
    check(page.data, `list page: ${page.response.status}`);
    for (const post of page.data.data) {
      check(!seen.has(post.id), "no item twice");
      seen.add(post.id);
    }
    const next = page.data.pagination.nextCursor;
    if (next === null) break;
    cursor = next;
  }
  check(seen.size === 2, `walked ${seen.size} posts`);

  // Page numbers still work until their sunset, and say so.
  const old = await asAda.GET("/posts", { params: { query: { page: 1, limit: 1 } } });
  check(old.response.headers.get("Deprecation")?.startsWith("@"), "Deprecation header");
  check(old.response.headers.get("Sunset"), "Sunset header");

  // An error is the envelope, its code typed.
  const bad = await asAda.GET("/posts", { params: { query: { limit: 1000 } } });
  check(bad.response.status === 400 && bad.error?.error.code === "VALIDATION_ERROR", "400");

  const board = await asAda.GET("/dashboard");
  check(board.data && board.data.data.user?.id === ada.id, `dashboard: ${board.response.status}`);

  const gone = await asAda.DELETE("/tokens/current");
  check(gone.response.status === 204, "log out");
  console.log("the TypeScript client drove the flow as the contract says");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
