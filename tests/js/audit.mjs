// The GraphQL-over-HTTP audit of graphql-http against a live flowgate: prints one JSON line a result.
import { auditServer } from 'graphql-http';

const results = await auditServer({ url: process.argv[2] });
for (const r of results) {
  console.log(JSON.stringify({ id: r.id, name: r.name, status: r.status, reason: r.reason ?? null }));
}
