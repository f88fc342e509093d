// A named subdomain whose name looks like a generated one (`c` + 24 of
// [a-z0-9]): if PUT accepts it, it is a named subdomain like any other, and
// its backup clone must serve clones after a gateway restart too (sockets
// open the backup of a *registered* subdomain, whatever its name looks like).
// Refusing such names at PUT would also do.
export const name = 'backup-uuid-shaped-name';
export const timeoutMs = 40000;

export default async function (ctx) {
  const { assert } = ctx;
  const acc = await ctx.createAccount('uuidish');
  const name = ctx.uuidName();
  const reply = await ctx.http('PUT', ctx.subdomainPath(acc, name), { auth: acc.auth });
  if (reply.status >= 400 && reply.status < 500) {
    ctx.log(`PUT of a UUID-shaped name refused: ${reply.what} ${reply.text}`);
    return;
  }
  const config = await ctx.putSubdomain(acc, name);
  const domain = config['@domain'];
  assert.equal((await ctx.presenceOf(domain, acc.auth)).length, 1, 'its backup clone is present after PUT');
  const a = await ctx.clone(config, { auth: acc.auth });
  await a.write({ '@id': 'kept', v: 1 });
  await ctx.closeClone(a);
  const { meld: b, data } = await ctx.freshClone(config, { auth: acc.auth });
  assert.deepEqual(data, ctx.canonicalSubjects([{ '@id': 'kept', v: 1 }]), 'a new clone gets the data from the backup');
  await ctx.closeClone(b);
  if (!ctx.gateway)
    return;
  await ctx.restartGateway({ signal: 'SIGTERM' });
  const present = await ctx.presenceOf(domain, acc.auth);
  assert.equal(present.length, 1,
    `after a restart, a socket on the registered subdomain ${name} should find its backup clone present: presence ${JSON.stringify(present)}`);
  const { data: after } = await ctx.freshClone(config, { auth: acc.auth });
  assert.deepEqual(after, ctx.canonicalSubjects([{ '@id': 'kept', v: 1 }]), 'after a restart, a new clone gets the data');
}
