export { PrivacyLedgerError, type PrivacyLedgerErrorCode } from './errors';
export { PRIVACY_LEDGER_FILE_MODE, PRIVACY_LEDGER_FORMAT, type LedgerEntry } from './ledger-file';
export {
  PrivacyLedger,
  type ChargeDetails,
  type LedgerBudgetCheck,
  type LedgerChargeResult,
  type PrivacyLedgerOptions,
  type RdpCharge,
} from './privacy-ledger';
export { LEDGER_LOCK_STALE_MS, LEDGER_LOCK_WAIT_MS, ledgerLockPath, withLedgerLock } from './ledger-lock';
