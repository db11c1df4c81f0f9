from __future__ import annotations

import json

from tests.harness.aws.support import Aws, stock_fails, unique


@stock_fails("the managed secret always says admin / P@55w0rd!")
def test_managed_secret_holds_the_master_username_and_a_generated_password(server: Aws) -> None:
    rds, secretsmanager = server.client("rds"), server.client("secretsmanager")
    passwords = []
    for _ in range(2):
        instance = rds.create_db_instance(
            DBInstanceIdentifier=unique("db"), Engine="postgres", DBInstanceClass="db.t4g.micro",
            MasterUsername="mailstack", ManageMasterUserPassword=True, AllocatedStorage=20,
        )["DBInstance"]
        arn = instance["MasterUserSecret"]["SecretArn"]
        value = json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
        assert value["username"] == "mailstack"
        assert len(value["password"]) >= 16 and not set('/"@ ') & set(value["password"])
        passwords.append(value["password"])
    assert passwords[0] != passwords[1]
