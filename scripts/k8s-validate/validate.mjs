// Validates the Kubernetes objects in the YAML files given against the API's JSON schemas (kubernetes-models).
// Prints "ok KIND NAME" per object, or "invalid KIND NAME: reason"; exits 1 if any is invalid or unknown.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as apps from "kubernetes-models/apps/v1";
import * as batch from "kubernetes-models/batch/v1";
import * as core from "kubernetes-models/v1";
import * as node from "kubernetes-models/node.k8s.io/v1";

const models = { "apps/v1": apps, "batch/v1": batch, "v1": core, "node.k8s.io/v1": node };
let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`invalid YAML in ${file}: ${doc.errors[0].message}`);
      failed = true;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    const Model = (models[obj.apiVersion] || {})[obj.kind];
    const name = obj.metadata && obj.metadata.name;
    if (!Model) {
      console.log(`invalid ${obj.kind} ${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      failed = true;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok ${obj.kind} ${name}`);
    } catch (e) {
      console.log(`invalid ${obj.kind} ${name}: ${e.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
