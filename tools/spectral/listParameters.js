// Every list (operationId list_*) takes page, limit, cursor, search, sortBy and order.
"use strict";

const NAMES = ["page", "limit", "cursor", "search", "sortBy", "order"];

module.exports = (operation, _options, context) => {
  if (operation === null || typeof operation !== "object") return [];
  if (!/^list_/.test(operation.operationId || "")) return [];
  const pathItem = context.document.data.paths[context.path[1]] || {};
  const resolve = (parameter) => {
    let node = parameter;
    while (node && typeof node.$ref === "string") {
      node = node.$ref
        .replace(/^#\//, "")
        .split("/")
        .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
        .reduce((at, part) => (at ? at[part] : undefined), context.document.data);
    }
    return node || {};
  };
  const declared = new Set(
    [...(pathItem.parameters || []), ...(operation.parameters || [])]
      .map(resolve)
      .filter((parameter) => parameter.in === "query")
      .map((parameter) => parameter.name),
  );
  const missing = NAMES.filter((name) => !declared.has(name));
  if (missing.length === 0) return [];
  return [{ message: `a list must take the query parameters ${missing.join(", ")}`, path: [...context.path, "parameters"] }];
};
