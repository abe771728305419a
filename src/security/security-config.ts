/**
 * The `security:` section of ficus.yaml: how the contract's security schemes are verified (JWT
 * issuers and keys, basic credentials). Credentials reach a backend only where its binding forwards
 * them (the http kind's `forwardHeaders`); the consumer's name reaches modern http backends in the
 * header of their connection's `consumerHeader`.
 */
import { z } from 'zod';
import { durationMs } from '../config/units.ts';

/** JWT algorithms Ficus may accept; `none` is never one of them. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'] as const;

export const jwtSchemeConfigSchema = z
  .object({
    /** Where the issuer publishes its public keys (a JWKS document). */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** A JWKS document (or one PEM public key) on disk, for issuers without a JWKS URL. */
    jwksFile: z.string().min(1).optional(),
    /** A shared secret for HS256/384/512 tokens (an `${env:…}` reference); only then are HS algorithms allowed. */
    secret: z.string().min(32).optional(),
    /** The token's `iss` must be this (or one of these). */
    issuer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** The token's `aud` must name this (or one of these). */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** Accepted algorithms (default: RS256, PS256, ES256, EdDSA for keys; HS256 for a secret). */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
    /** Tolerance for `exp` and `nbf` between clocks. */
    clockSkew: durationMs.prefault('30s'),
    /** The claim that names the consumer (`sub`, `client_id`, `azp`, ...). */
    consumerClaim: z.string().min(1).default('sub'),
    /** An unknown `kid` refreshes the JWKS at most once in this time. */
    jwksCooldown: durationMs.prefault('30s'),
    /** The JWKS is fetched again in the background this often (a failure keeps the keys it has). */
    jwksMaxAge: durationMs.prefault('10m'),
    /** How long fetching the JWKS may take. */
    jwksTimeout: durationMs.prefault('3s'),
    /**
     * Tokens already verified are remembered (by their SHA-256) until they expire, at most this many
     * (0: verify every time); a refreshed JWKS forgets them all, so a withdrawn key stops its tokens.
     */
    verifiedTokens: z.number().int().min(0).max(1_000_000).default(10_000),
  })
  .strict();
export type JwtSchemeConfig = z.infer<typeof jwtSchemeConfigSchema>;

export const basicSchemeConfigSchema = z
  .object({
    /** A file of `user:hash` lines (hashes from `ficus consumers hash-password`); mode 600. */
    credentialsFile: z.string().min(1).optional(),
    /** The environment variable holding `user:hash,user:hash` (default FICUS_BASIC_CREDENTIALS). */
    credentialsEnv: z.string().min(1).default('FICUS_BASIC_CREDENTIALS'),
  })
  .strict();
export type BasicSchemeConfig = z.infer<typeof basicSchemeConfigSchema>;

export const securityConfigSchema = z
  .object({
    /** false turns the front door off (every operation anonymous): for a closed test network only. */
    enforce: z.boolean().default(true),
    /** Settings of the contract's schemes, by scheme name: JWT (bearer, oauth2, openIdConnect) or basic. */
    schemes: z.record(z.string(), z.union([jwtSchemeConfigSchema, basicSchemeConfigSchema])).default({}),
  })
  .strict();
export type SecurityConfig = z.infer<typeof securityConfigSchema>;
