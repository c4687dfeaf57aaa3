from smt_portal.sealed_tokens import sealed_token_new, token_hash, tokens_in, unseal


def test_a_placeholder_unseals_to_the_token_whose_hash_is_stored():
    placeholder, stored_hash = sealed_token_new("affirmation")
    body = f"Open http://portal/affirm/{placeholder}/ to decide."
    sent = unseal(body)
    token = sent.split("/affirm/")[1].split("/")[0]
    assert token_hash(token) == stored_hash
    assert placeholder not in sent
    assert len(token) >= 43  # 256 bits, base64url


def test_the_stored_text_does_not_contain_the_token():
    placeholder, _ = sealed_token_new("affirmation")
    (token,) = tokens_in(placeholder)
    assert token not in placeholder


def test_tokens_depend_on_the_secret_key(settings):
    placeholder, stored_hash = sealed_token_new("renewal")
    settings.SECRET_KEY = "another-secret-key-for-a-different-installation-0123456789"
    (token,) = tokens_in(placeholder)
    assert token_hash(token) != stored_hash


def test_purposes_do_not_share_tokens():
    placeholder, _ = sealed_token_new("affirmation")
    other = placeholder.replace("affirmation", "renewal")
    assert tokens_in(placeholder) != tokens_in(other)


def test_text_without_placeholders_is_unchanged():
    assert unseal("[[sealed:bad purpose:x]] plain") == "[[sealed:bad purpose:x]] plain"


def test_a_sealed_value_is_stored_encrypted_and_opens_at_send_time():
    from smt_portal.sealed_tokens import sealed_value_new

    code = "XK4-PQ7"
    body = f"Your code: {sealed_value_new('login_code', code)}."

    assert code not in body
    assert unseal(body) == f"Your code: {code}."
    assert tokens_in(body) == [code]


def test_a_sealed_value_depends_on_the_secret_key(settings):
    from smt_portal.sealed_tokens import sealed_value_new

    placeholder = sealed_value_new("confirm_email", "MQ:1tXyZ:abcdefgh")
    settings.SECRET_KEY = "another-secret-key-for-a-different-installation-0123456789"

    assert tokens_in(placeholder) != ["MQ:1tXyZ:abcdefgh"]
