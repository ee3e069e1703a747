import { describe, expect, it } from 'vitest';
import { resolveMenderAuth } from '../../../../core/mender/credentials.js';

const files: Record<string, string> = {
  '/run/pat': 'pat-from-file\n',
  '/run/pw': 'pw-from-file\n',
  '/run/empty': '  \n',
};
const io = {
  env: { MENDER_PAT: 'pat-from-env', EMPTY: '' },
  readFile: (p: string) =>
    p in files ? Promise.resolve(files[p]!) : Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' })),
};

describe('resolveMenderAuth', () => {
  it.each([
    [{ token: 'inline' }, { kind: 'token', token: 'inline' }],
    [{ token_file: '/run/pat' }, { kind: 'token', token: 'pat-from-file' }],
    [{ token_env: 'MENDER_PAT' }, { kind: 'token', token: 'pat-from-env' }],
    [
      { user: 'ops', password: 'pw' },
      { kind: 'login', user: 'ops', password: 'pw' },
    ],
    [
      { user: 'ops', password_file: '/run/pw' },
      { kind: 'login', user: 'ops', password: 'pw-from-file' },
    ],
  ])('%j', async (src, auth) => {
    expect(await resolveMenderAuth(src, io)).toEqual(auth);
  });

  it.each([
    [{}, 'Mender credentials missing: give a token (token, token_file, token_env) or user + password'],
    [{ token_file: '/run/missing' }, 'cannot read Mender token file /run/missing: ENOENT'],
    [{ token_file: '/run/empty' }, 'Mender token file /run/empty is empty'],
    [{ token_env: 'EMPTY' }, 'Mender token environment variable EMPTY is not set'],
    [{ user: 'ops' }, 'Mender user ops needs a password (password, password_file or password_env)'],
  ])('rejects %j in one line', async (src, message) => {
    await expect(resolveMenderAuth(src, io)).rejects.toThrow(message);
  });
});
