import pickle

import pytest

from providers import errors


def test_it_says_what_may_be_retried():
    retryable = {cls.__name__ for cls in vars(errors).values()
                 if isinstance(cls, type) and issubclass(cls, errors.ProviderError) and cls.retryable}
    assert retryable == {"RateLimited", "ProviderUnavailable", "ProviderUnreachable", "IncompleteDownload",
                         "DeploymentNotReady"}


def test_it_keeps_the_provider_fields_and_request_id():
    error = errors.InvalidRequest("Invalid size", status=400, code="invalid_value", type="invalid_request_error",
                                  param="size", request_id="req_9")
    assert str(error) == "Invalid size (HTTP 400, code=invalid_value, request_id=req_9)"
    assert "param='size'" in repr(error)
    assert errors.ProviderError("plain").__str__() == "plain"


@pytest.mark.parametrize("error", [
    errors.RateLimited("slow down", retry_after=1.5, status=429, request_id="req_1"),
    errors.OutcomeUnknown("no answer"),
    errors.InvalidRequest("bad", param="seconds", status=400),
])
def test_it_survives_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and vars(copy) == vars(error) and str(copy) == str(error)
