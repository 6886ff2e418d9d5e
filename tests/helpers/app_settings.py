"""App settings the function app's tests run with."""

#: The ack-link signing key of the app tests (any 32+ characters will do).
TEST_ACK_KEY = "test-ack-signing-key-0123456789abcdef"
TEST_ACK_BASE_URL = "http://localhost:7071/api"
