/**
 * What a legacy screen can say that is not data, and the problem each becomes: a "not found"
 * message is a 404, a validation message is a 422 carrying the screen's words, a refused login is
 * a 502 about the gateway's own legacy credentials (never the caller's), a session the legacy app
 * ended is renewed by the pool and never reaches the caller.
 */
import { PROBLEMS, Problem, type FieldError } from '../../problem.ts';

/** The screen said there is no such record. */
export class ScreenNotFound extends Error {
  constructor(readonly words: string) {
    super(words);
    this.name = 'ScreenNotFound';
  }
}

/** The screen refused the input (server-side validation); `words` are the screen's messages. */
export class ScreenRefused extends Error {
  constructor(
    readonly words: string[],
    readonly fields: FieldError[] = [],
  ) {
    super(words.join(' '));
    this.name = 'ScreenRefused';
  }
}

/**
 * A value the legacy form's field cannot hold as given: longer than its maxlength (counted, as the
 * browser does, in UTF-16 units), a line break in a single-line field, a NUL; or the field, read
 * back after typing, holds something else. Typing it would store a changed value.
 */
export class ScreenInputRefused extends Error {
  constructor(
    /** The request field the value came from (e.g. body.line1), or the form field's selector. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ScreenInputRefused';
  }
}

/** The legacy login screen refused the gateway's credentials. */
export class LegacyLoginRefused extends Error {
  constructor(readonly words: string) {
    super(words);
    this.name = 'LegacyLoginRefused';
  }
}

/** The legacy app showed its login screen in the middle of a flow: the session is gone. */
export class SessionExpired extends Error {
  constructor(readonly at: string) {
    super(`the legacy app asked to sign on again at ${at}`);
    this.name = 'SessionExpired';
  }
}

/** The screen does not look as the flow expects (a column or a field is missing): a one-file fix in the flow. */
export class ScreenChanged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScreenChanged';
  }
}

export function notFoundProblem(adapter: string, words: string): Problem {
  return new Problem(PROBLEMS.notFound, { detail: words, extensions: { source: adapter } });
}

export function refusedProblem(adapter: string, err: ScreenRefused): Problem {
  return new Problem(PROBLEMS.unprocessable, {
    detail: err.words.join(' '),
    errors: err.fields.length > 0 ? err.fields : err.words.map((w) => ({ field: 'body', message: w })),
    extensions: { source: adapter, legacyMessages: err.words },
  });
}

export function inputRefusedProblem(adapter: string, err: ScreenInputRefused): Problem {
  return new Problem(PROBLEMS.legacyRefused, {
    detail: `${adapter}: ${err.field}: ${err.reason}`,
    errors: [{ field: err.field, message: err.reason }],
    extensions: { source: adapter },
  });
}

export function loginRefusedProblem(adapter: string, words: string, credentialsHint: string): Problem {
  return new Problem(PROBLEMS.upstreamCredentials, {
    detail: `${adapter}: the legacy sign-on screen refused the gateway's own credentials (${credentialsHint}) and said: "${words}". This is not the caller's fault; the gateway's operator must correct them.`,
    extensions: { source: adapter },
  });
}
