"""What each CloudFormation stack status means for the workshop, in words a learner can act on.

CloudFormation's statuses: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html
"""

from __future__ import annotations

# The stack exists and serves its outputs. UPDATE_ROLLBACK_COMPLETE is one of them: a failed
# update was rolled back to the previous version, which still works.
DEPLOYED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}

# A create, update or delete that ended in one of these did what was asked.
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}

# Statuses in which CloudFormation refuses any update: the stack can only be deleted (and
# created again). Each says how the stack got there.
ONLY_DELETABLE = {
    "ROLLBACK_COMPLETE": "its first creation failed and was rolled back",
    "ROLLBACK_FAILED": "its first creation failed, and so did the rollback",
    "CREATE_FAILED": "its creation failed and was not rolled back",
    "DELETE_FAILED": "a delete of it failed, leaving some of its resources",
}

REPLACE_HINT = "Run `deploy_stack(target, replace_failed=True)` to delete it and deploy again."

# What to do after a create or update ended in a status that is not a success.
_NEXT_STEP_AFTER_FAILED_DEPLOY = {
    "UPDATE_ROLLBACK_COMPLETE": (
        "The stack was rolled back to its previous version, which still works; "
        "fix the cause and deploy again."
    ),
    "UPDATE_ROLLBACK_FAILED": (
        "The update failed and so did its rollback. In the CloudFormation console choose "
        "Stack actions > Continue update rollback, then deploy again."
    ),
}


def cannot_update_message(stack_name: str, status: str) -> str:
    """Why a stack in an `ONLY_DELETABLE` status cannot be deployed over, and what to do."""
    return (
        f"Stack {stack_name} is {status}: {ONLY_DELETABLE[status]}, and such a stack cannot "
        f"be updated. {REPLACE_HINT}"
    )


def next_step_after_failed_deploy(status: str) -> str:
    """What to do once a create or update ended in `status` (not a success)."""
    if status in ONLY_DELETABLE:
        return f"The stack is {status}: {ONLY_DELETABLE[status]}. {REPLACE_HINT}"
    return _NEXT_STEP_AFTER_FAILED_DEPLOY.get(
        status,
        "Look at the stack's Events tab in the CloudFormation console, fix the cause "
        "and deploy again.",
    )
