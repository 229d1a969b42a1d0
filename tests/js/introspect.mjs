// Rebuilds the served schema from the standard introspection query with graphql-js and compares
// it with a schema file, both printed by graphql-js. Exit 1 and the first difference if they differ.
import { readFileSync } from 'node:fs';
import { buildClientSchema, buildSchema, getIntrospectionQuery, printSchema } from 'graphql';

const [url, file] = process.argv.slice(2);
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }) }),
});
const body = await res.json();
if (body.errors) {
  console.log(JSON.stringify(body.errors));
  process.exit(1);
}
const served = printSchema(buildClientSchema(body.data)).split('\n');
const written = printSchema(buildSchema(readFileSync(file, 'utf8'))).split('\n');
for (let i = 0; i < Math.max(served.length, written.length); i++) {
  if (served[i] !== written[i]) {
    console.log(`line ${i + 1}:\n  served:  ${served[i]}\n  written: ${written[i]}`);
    process.exit(1);
  }
}
console.log(`same schema, ${served.length} lines`);
