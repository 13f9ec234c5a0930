-- Costs a trader can see: reservations sized to the route, extended when a
-- fallback goes to a pricier provider, and a short preview of the question on
-- each reservation so the credits panel can list spend per question.

-- An `extend` row adds to an open reservation (negative delta) before a
-- fallback to a pricier provider runs. The unique key on (user, request id,
-- reason) is kept, so every step stays idempotent and at most one extension
-- exists per answer (a second fallback uses a cap that fits what is held).
alter table public.credits_ledger drop constraint credits_ledger_reason_check;
alter table public.credits_ledger add constraint credits_ledger_reason_check
  check (reason in ('grant', 'reserve', 'extend', 'settle', 'purchase', 'refund', 'adjustment'));

-- The question, shortened, on the `reserve` row: the user's own text, readable
-- by them under the existing select policy (and by nobody else).
alter table public.credits_ledger add column question text
  check (question is null or char_length(question) <= 160);

-- The voice part of a settled charge (the rest is text), so the spend list and
-- its totals need no price table: prices may change, what was charged does not.
alter table public.credits_ledger add column voice_credits integer
  check (voice_credits is null or voice_credits >= 0);
