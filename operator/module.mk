# operator: unit tests link only what the operator uses.
TEST_LINK_operator := common syncer operator
