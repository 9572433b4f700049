// Breaking changes that Optic's standard `breaking-changes` ruleset does not look for:
// narrowed bounds of what a client sends, and a request media type taken away.
// Loaded by optic.yml; `make spec-diff` runs it with the standard ruleset.
"use strict";

const { OperationRule, RequestRule, Ruleset, RuleError } = require("@useoptic/rulesets-base");

// keyword -> which way of changing it refuses values that were accepted
const UPPER = ["maximum", "maxLength", "maxItems", "maxProperties"];
const LOWER = ["minimum", "minLength", "minItems", "minProperties"];

function narrowings(before, after) {
  const found = [];
  if (!before || !after || typeof before !== "object" || typeof after !== "object") return found;
  for (const key of UPPER) {
    if (typeof after[key] !== "number") continue;
    if (typeof before[key] !== "number") found.push(`'${key}: ${after[key]}' was added`);
    else if (after[key] < before[key]) found.push(`'${key}' went down from ${before[key]} to ${after[key]}`);
  }
  for (const key of LOWER) {
    if (typeof after[key] !== "number") continue;
    if (typeof before[key] !== "number") {
      if (after[key] > 0) found.push(`'${key}: ${after[key]}' was added`);
    } else if (after[key] > before[key]) {
      found.push(`'${key}' went up from ${before[key]} to ${after[key]}`);
    }
  }
  if (typeof after.pattern === "string" && typeof before.pattern !== "string") {
    found.push(`'pattern' was added`);
  }
  return found;
}

function refuse(what, found) {
  throw new RuleError({
    message: `${what}: ${found.join("; ")}. Requests that were valid are now refused. This is a breaking change.`,
  });
}

const parameterBounds = new OperationRule({
  name: "prevent narrowing parameter bounds",
  rule: (operation) => {
    for (const [where, assertions] of [
      ["query", operation.queryParameter],
      ["path", operation.pathParameter],
      ["header", operation.headerParameter],
      ["cookie", operation.cookieParameter],
    ]) {
      assertions.changed((before, after) => {
        const found = narrowings(before.value.schema, after.value.schema);
        if (found.length) refuse(`${where} parameter '${after.value.name}'`, found);
      });
    }
  },
});

const requestBounds = new RequestRule({
  name: "prevent narrowing request body bounds",
  rule: (request) => {
    request.property.changed((before, after) => {
      const found = narrowings(before.value.flatSchema, after.value.flatSchema);
      if (found.length) refuse(`request property '${after.value.key}'`, found);
    });
    request.body.changed((before, after) => {
      const found = narrowings(before.value.flatSchema, after.value.flatSchema);
      if (found.length) refuse(`request body ${after.value.contentType}`, found);
    });
  },
});

const requestMediaTypes = new RequestRule({
  name: "prevent removing a request media type",
  rule: (request, context) => {
    request.body.removed((before) => {
      if (context.operation.change === "removed") return; // reported as a removed operation
      throw new RuleError({
        message: `request bodies of type ${before.value.contentType} are no longer accepted. This is a breaking change.`,
      });
    });
  },
});

module.exports = {
  name: "project-breaking-changes",
  description: "Breaking changes to requests that the standard ruleset does not check",
  configSchema: {},
  rulesetConstructor: () =>
    new Ruleset({
      name: "project-breaking-changes",
      rules: [parameterBounds, requestBounds, requestMediaTypes],
    }),
};
