// The TypeScript types generated from the contract (openapi-typescript), used as a client
// team would. `make test` compiles this file with `tsc --strict --noEmit`; the
// `@ts-expect-error` lines fail the compile if what they refuse ever becomes valid.
import type { components, operations, paths } from "../../build/sdk/typescript/api";

type Schemas = components["schemas"];
type User = Schemas["User"];
type Post = Schemas["Post"];
type ApiError = Schemas["Error"];
type ErrorCode = Schemas["ErrorCode"];
type SignUp = paths["/users"]["post"]["requestBody"]["content"]["application/json"];
type PostPatch = NonNullable<
  paths["/posts/{id}"]["patch"]["requestBody"]
>["content"]["application/merge-patch+json"];
type ListPostsQuery = NonNullable<operations["list_posts"]["parameters"]["query"]>;
type ListedPosts = operations["list_posts"]["responses"][200]["content"]["application/json"];
type Failure = operations["get_post"]["responses"][404]["content"]["application/json"];

const API = "http://127.0.0.1:8000/api";

async function call<T>(method: string, path: string, body?: unknown, type = "application/json"): Promise<T> {
  const response = await fetch(API + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": type },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) {
    const failure = (await response.json()) as Failure;
    const error: ApiError = failure.error;
    const code: ErrorCode = error.code;
    const fields = (error.details ?? []).map((detail) => `${detail.in ?? "body"}:${detail.field}`);
    throw new Error(`${code}: ${error.message} ${fields.join(", ")}`);
  }
  return (await response.json()) as T;
}

export async function signUp(name: string, email: string, password: string): Promise<User> {
  const body: SignUp = { name, email, password };
  const created = await call<Schemas["UserEnvelope"]>("POST", "/users", body);
  return created.data;
}

export async function rename(post: Post, title: string): Promise<Post> {
  const patch: PostPatch = { title };
  const changed = await call<Schemas["PostEnvelope"]>(
    "PATCH",
    `/posts/${post.id}`,
    patch,
    "application/merge-patch+json",
  );
  return changed.data;
}

export async function newestPublished(search: string): Promise<Post[]> {
  const query: ListPostsQuery = { search, sortBy: "createdAt", order: "desc", status: "published", limit: 10 };
  const parameters = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)]));
  const page = await call<ListedPosts>("GET", `/posts?${parameters}`);
  const pages: number = page.pagination.totalPages;
  return pages > 0 ? page.data : [];
}

export const codes: ErrorCode[] = ["VALIDATION_ERROR", "NOT_FOUND", "UNSUPPORTED_MEDIA_TYPE"];

// What the contract refuses, the types refuse.
// @ts-expect-error PATCH takes only application/merge-patch+json
export type JsonPatch = paths["/posts/{id}"]["patch"]["requestBody"]["content"]["application/json"];
// @ts-expect-error a sign-up needs a password
export const incomplete: SignUp = { name: "Ada", email: "ada@example.com" };
// @ts-expect-error posts are sorted by createdAt, updatedAt or title
export const unsorted: ListPostsQuery = { sortBy: "name" };
// @ts-expect-error the order is asc or desc
export const sideways: Schemas["SortOrder"] = "up";
// @ts-expect-error error codes are a closed list
export const unknownCode: ErrorCode = "TEAPOT";
// @ts-expect-error a post always has its comment count
export const countless: Post["commentCount"] = undefined;
