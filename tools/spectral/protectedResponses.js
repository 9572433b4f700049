// An operation that takes a token (required or optional) declares 401: a bad token is
// refused. One with x-allow, x-roles, x-field-roles or x-param-roles declares 403.
// `security` missing means the document's default.
"use strict";

const RULED = ["x-allow", "x-roles", "x-field-roles", "x-param-roles"];

module.exports = (operation, _options, context) => {
  if (operation === null || typeof operation !== "object") return [];
  const document = context.document.data;
  const security = operation.security !== undefined ? operation.security : document.security || [];
  const responses = operation.responses || {};
  const results = [];
  if (security.length > 0 && !("401" in responses)) {
    results.push({ message: "takes a token, so it must declare 401 (Unauthorized)", path: [...context.path, "responses"] });
  }
  const ruled = RULED.filter((key) => key in operation);
  if (ruled.length > 0 && !("403" in responses)) {
    results.push({
      message: `has ${ruled.join(", ")}, so it must declare 403 (Forbidden)`,
      path: [...context.path, "responses"],
    });
  }
  const public_ = security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0);
  if (public_ && ["x-allow", "x-roles"].some((key) => key in operation)) {
    results.push({ message: "may be called without a token, so x-allow and x-roles cannot apply", path: context.path });
  }
  return results;
};
