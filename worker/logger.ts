import pino, { type Logger } from 'pino';

/** The process logger: JSON lines, secrets redacted wherever they appear in a logged object. */
export function createLogger(level: string, name = 'patchflow', destination?: string): Logger {
  const options = {
    name,
    level,
    redact: {
      paths: ['*.credential', '*.enrollmentToken', '*.apiKey', '*.password', 'req.headers.authorization', '*.taskToken'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, pino.destination({ dest: destination, mkdir: true, sync: false })) : pino(options);
}
