// A create (create_<...>_<noun>) links its 201 to the read of what it made (get_<noun>),
// when the contract has that read, so generated clients and Schemathesis' stateful phase
// can follow it.
"use strict";

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

module.exports = (operation, _options, context) => {
  if (operation === null || typeof operation !== "object") return [];
  const id = operation.operationId || "";
  if (!id.startsWith("create_")) return [];
  const read = `get_${id.split("_").pop()}`;
  const ids = new Set();
  for (const item of Object.values(context.document.data.paths || {})) {
    for (const method of METHODS) if (item && item[method]) ids.add(item[method].operationId);
  }
  if (!ids.has(read)) return [];
  const created = (operation.responses || {})["201"] || {};
  const links = Object.values(created.links || {});
  if (links.some((link) => link && link.operationId === read)) return [];
  return [
    {
      message: `${id} must link its 201 to ${read} (responses.201.links)`,
      path: [...context.path, "responses", "201"],
    },
  ];
};
