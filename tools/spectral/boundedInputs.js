// What a client sends is bounded: integers have minimum and maximum, strings maxLength
// (an enum, or allOf a named enum, is bounded by its values). Runs on the resolved document.
"use strict";

function isEnum(schema) {
  return "enum" in schema || (schema.allOf || []).some((part) => part && "enum" in part);
}

function* unbounded(schema, path) {
  if (schema === null || typeof schema !== "object") return;
  if (schema.readOnly === true) return;
  if (schema.type === "integer" && !("minimum" in schema && "maximum" in schema)) {
    yield { message: "an integer input needs minimum and maximum", path };
  }
  if (schema.type === "string" && !isEnum(schema) && !("maxLength" in schema)) {
    yield { message: "a string input needs maxLength (or an enum)", path };
  }
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    for (const [index, part] of (schema[key] || []).entries()) yield* unbounded(part, [...path, key, index]);
  }
  for (const [name, property] of Object.entries(schema.properties || {})) {
    yield* unbounded(property, [...path, "properties", name]);
  }
  if (schema.items) yield* unbounded(schema.items, [...path, "items"]);
}

module.exports = (operation, _options, context) => {
  if (operation === null || typeof operation !== "object") return [];
  const results = [];
  for (const [index, parameter] of (operation.parameters || []).entries()) {
    results.push(...unbounded(parameter.schema, [...context.path, "parameters", index, "schema"]));
  }
  for (const [type, media] of Object.entries((operation.requestBody || {}).content || {})) {
    results.push(...unbounded(media.schema, [...context.path, "requestBody", "content", type, "schema"]));
  }
  return results;
};
