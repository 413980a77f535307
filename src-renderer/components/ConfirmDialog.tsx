import { useEffect, useRef, type ReactNode } from 'react';

/**
 * A modal dialog. The native <dialog> keeps focus inside, closes on Escape (reported as `onClose`) and gives focus
 * back to where it was.
 */
export function Dialog({
  open,
  title,
  children,
  actions,
  onClose,
  testId,
}: {
  open: boolean;
  title: string;
  children?: ReactNode;
  /** The buttons at the bottom. */
  actions: ReactNode;
  onClose: () => void;
  testId: string;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog
      ref={dialog}
      className="dialog"
      data-testid={testId}
      aria-labelledby={`${testId}-title`}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={`${testId}-title`}>{title}</h2>
      {open && children}
      <div className="row dialog-actions">{actions}</div>
    </dialog>
  );
}

/** A question with a confirm and a cancel button; Escape cancels. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  testId,
  danger = false,
}: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  testId: string;
  /** The confirm button is styled as destructive; default false. */
  danger?: boolean;
}) {
  return (
    <Dialog
      open={open}
      title={title}
      onClose={onCancel}
      testId={testId}
      actions={
        <>
          <button type="button" data-testid={`${testId}-cancel`} onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className={danger ? 'danger' : 'primary'}
            data-testid={`${testId}-confirm`}
            onClick={onConfirm}
          >
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
    </Dialog>
  );
}
