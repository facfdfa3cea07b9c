import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/failures.js';
import { UnknownCredentialKeyError, type CredentialDecryptionError } from './credential-cipher.js';

/**
 * For activities: the typed failure for credentials that cannot be opened. Non-retryable, because no
 * retry brings a key back or repairs a ciphertext: an operator adds the key back and reseals, or the
 * tenant re-enters the credentials.
 */
export function credentialFailure(err: CredentialDecryptionError): ApplicationFailure {
  if (err instanceof UnknownCredentialKeyError) {
    return ApplicationFailure.create({ type: FailureType.CredentialsKeyMissing, message: err.message, nonRetryable: true, details: [{ keyId: err.keyId }] });
  }
  return ApplicationFailure.create({ type: FailureType.CredentialsUndecryptable, message: err.message, nonRetryable: true });
}
