// Resolve Mender credentials from config: a personal access token (inline, file or env variable), or a
// user + password (re-login on 401). Reading files and env is passed in, so this stays testable.
import { VanError } from '../errors.js';
import type { MenderAuth } from './http.js';

export interface CredentialSources {
  token?: string | undefined;
  token_file?: string | undefined;
  token_env?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  password_file?: string | undefined;
  password_env?: string | undefined;
}

export interface SecretReaders {
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => Promise<string>;
}

async function secretFromFile(path: string, what: string, io: SecretReaders): Promise<string> {
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (e) {
    throw new VanError(
      'CONFIG_UNREADABLE',
      `cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  const value = text.trim();
  if (!value) throw new VanError('CONFIG_INVALID', `${what} file ${path} is empty`);
  return value;
}

function secretFromEnv(name: string, what: string, io: SecretReaders): string {
  const value = io.env[name]?.trim();
  if (!value) throw new VanError('CONFIG_INVALID', `${what} environment variable ${name} is not set`);
  return value;
}

export async function resolveMenderAuth(src: CredentialSources, io: SecretReaders): Promise<MenderAuth> {
  if (src.token) return { kind: 'token', token: src.token };
  if (src.token_file) return { kind: 'token', token: await secretFromFile(src.token_file, 'Mender token', io) };
  if (src.token_env) return { kind: 'token', token: secretFromEnv(src.token_env, 'Mender token', io) };
  if (src.user) {
    const password =
      src.password ??
      (src.password_file
        ? await secretFromFile(src.password_file, 'Mender password', io)
        : src.password_env
          ? secretFromEnv(src.password_env, 'Mender password', io)
          : undefined);
    if (!password)
      throw new VanError(
        'CONFIG_INVALID',
        `Mender user ${src.user} needs a password (password, password_file or password_env)`,
      );
    return { kind: 'login', user: src.user, password };
  }
  throw new VanError(
    'CONFIG_INVALID',
    'Mender credentials missing: give a token (token, token_file, token_env) or user + password',
  );
}
