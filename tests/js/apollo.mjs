// Apollo Client 4 with InMemoryCache and automatic persisted queries, as a frontend would use
// flowgate. Prints the two answers as JSON: the first from the network, the second from the cache.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';

const [url, appmixer, appypie] = process.argv.slice(2);
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: new PersistedQueryLink({ sha256 }).concat(
    new HttpLink({ uri: url, headers: { 'x-appmixer-token': appmixer, 'x-appypie-token': appypie } }),
  ),
});
const query = gql`
  query Integrations {
    automations(first: 5) { totalCount edges { node { id name status } } }
  }
`;
const first = await client.query({ query });
const second = await client.query({ query });
console.log(JSON.stringify({ first: first.data, second: second.data }));
