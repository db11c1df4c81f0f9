"""SES receipt rules can be deleted and moved, and rule names are unique within a rule set.

AWS: ``DeleteReceiptRule`` removes a rule (a missing rule is not an error; a missing rule set is
RuleSetDoesNotExist); ``SetReceiptRulePosition`` moves a rule after another one, or first when
``After`` is empty; ``CreateReceiptRule`` with a name the rule set already has fails with AlreadyExists.
Stock moto: DeleteReceiptRule and SetReceiptRulePosition are not implemented (HTTP 500, so
``terraform destroy`` of an ``aws_ses_receipt_rule`` and changing its ``after`` fail), and
CreateReceiptRule accepts a second rule of the same name unless every field matches, so the rule set
then holds both and runs the stale one first.
Checked and left alone (moto already matches AWS): S3 action ObjectKeyPrefix/TopicArn, SNS action
Encoding, rule order from ``After`` at create, UpdateReceiptRule, SetActiveReceiptRuleSet without a
name (deactivates all), DescribeActiveReceiptRuleSet with none active (empty), DeleteReceiptRuleSet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.aws.fidelity import FidelityPatch

if TYPE_CHECKING:
    from moto.core.responses import ActionResult
    from moto.ses.models import ReceiptRuleSet, SESBackend
    from moto.ses.responses import EmailResponse


def _rule_set(backend: SESBackend, name: str) -> ReceiptRuleSet:
    from moto.ses.exceptions import RuleSetDoesNotExist

    rule_set = backend.receipt_rule_set.get(name)
    if rule_set is None:
        raise RuleSetDoesNotExist(f"Rule set does not exist: {name}")
    return rule_set


def _index(rule_set: ReceiptRuleSet, rule_name: str) -> int:
    from moto.ses.exceptions import RuleDoesNotExist

    for index, rule in enumerate(rule_set.rules):
        if rule["Name"] == rule_name:
            return index
    raise RuleDoesNotExist(f"Rule does not exist: {rule_name}")


def delete_receipt_rule(self: EmailResponse) -> ActionResult:
    from moto.core.responses import EmptyResult

    rule_set = _rule_set(self.backend, self._get_param("RuleSetName"))
    name = self._get_param("RuleName")
    rule_set.rules = [rule for rule in rule_set.rules if rule["Name"] != name]
    return EmptyResult()


def set_receipt_rule_position(self: EmailResponse) -> ActionResult:
    from moto.core.responses import EmptyResult

    rule_set = _rule_set(self.backend, self._get_param("RuleSetName"))
    after = self._get_param("After")
    rule = rule_set.rules[_index(rule_set, self._get_param("RuleName"))]
    if after:
        _index(rule_set, after)  # must exist
    rules = [r for r in rule_set.rules if r is not rule]
    position = 0 if not after else next(i for i, r in enumerate(rules) if r["Name"] == after) + 1
    rules.insert(position, rule)
    rule_set.rules = rules
    return EmptyResult()


def _apply() -> None:
    from moto.ses.exceptions import AlreadyExists
    from moto.ses.models import SESBackend
    from moto.ses.responses import EmailResponse

    original_create = SESBackend.create_receipt_rule

    def create_receipt_rule(self: SESBackend, rule_set_name: str, rule: dict[str, Any], after: str | None) -> None:
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is not None and any(r["Name"] == rule.get("Name") for r in rule_set.rules):
            raise AlreadyExists(f"Rule already exists: {rule['Name']}")
        original_create(self, rule_set_name, rule, after)

    SESBackend.create_receipt_rule = create_receipt_rule  # type: ignore[method-assign]
    EmailResponse.delete_receipt_rule = delete_receipt_rule  # type: ignore[attr-defined]
    EmailResponse.set_receipt_rule_position = set_receipt_rule_position  # type: ignore[attr-defined]


PATCH = FidelityPatch(
    name="ses-receipt-rules",
    summary="DeleteReceiptRule and SetReceiptRulePosition work and rule names are unique per rule set; "
    "stock moto answers 500 to both (destroy fails) and accepts duplicate rule names.",
    apply=_apply,
)
