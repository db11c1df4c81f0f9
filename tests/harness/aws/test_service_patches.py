"""Fidelity patches for SES receipt rules, Application Auto Scaling tags, RDS parameters, ECS services, S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from tests.harness.aws.support import ACCOUNT, REGION, Aws, stock_fails, unique

# ------------------------------------------------------------------------------------------------
# ses-receipt-rules


def rule_set_with(ses: Any, *names: str) -> str:
    rule_set = unique("rules")
    ses.create_receipt_rule_set(RuleSetName=rule_set)
    after = None
    for name in names:
        ses.create_receipt_rule(
            RuleSetName=rule_set, Rule={"Name": name, "Enabled": True}, **({"After": after} if after else {})
        )
        after = name
    return rule_set


def rule_names(ses: Any, rule_set: str) -> list[str]:
    return [rule["Name"] for rule in ses.describe_receipt_rule_set(RuleSetName=rule_set)["Rules"]]


@stock_fails("DeleteReceiptRule is not implemented", raises=Exception)
def test_delete_receipt_rule(server: Aws) -> None:
    ses = server.client("ses")
    rule_set = rule_set_with(ses, "store", "notify")

    ses.delete_receipt_rule(RuleSetName=rule_set, RuleName="store")
    ses.delete_receipt_rule(RuleSetName=rule_set, RuleName="store")  # already gone: not an error

    assert rule_names(ses, rule_set) == ["notify"]
    with pytest.raises(ClientError) as error:
        ses.delete_receipt_rule(RuleSetName=unique("missing"), RuleName="store")
    assert error.value.response["Error"]["Code"] == "RuleSetDoesNotExist"


@stock_fails("SetReceiptRulePosition is not implemented", raises=Exception)
def test_set_receipt_rule_position(server: Aws) -> None:
    ses = server.client("ses")
    rule_set = rule_set_with(ses, "a", "b", "c")

    ses.set_receipt_rule_position(RuleSetName=rule_set, RuleName="a", After="c")
    assert rule_names(ses, rule_set) == ["b", "c", "a"]
    ses.set_receipt_rule_position(RuleSetName=rule_set, RuleName="c")
    assert rule_names(ses, rule_set) == ["c", "b", "a"]
    with pytest.raises(ClientError) as error:
        ses.set_receipt_rule_position(RuleSetName=rule_set, RuleName="a", After="nope")
    assert error.value.response["Error"]["Code"] == "RuleDoesNotExist"


@stock_fails("a second rule with the same name is accepted")
def test_rule_names_are_unique_in_a_rule_set(server: Aws) -> None:
    ses = server.client("ses")
    rule_set = rule_set_with(ses, "store")

    with pytest.raises(ClientError) as error:
        ses.create_receipt_rule(RuleSetName=rule_set, Rule={"Name": "store", "Enabled": False})

    assert error.value.response["Error"]["Code"] == "AlreadyExists"
    assert rule_names(ses, rule_set) == ["store"]


def test_receipt_rule_actions_round_trip(aws: Aws) -> None:
    """What moto already got right, kept right under the patch: actions, update, (de)activation."""
    ses, s3, sns = aws.client("ses"), aws.client("s3"), aws.client("sns")
    bucket = unique("raw")
    s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name=unique("inbound"))["TopicArn"]
    rule_set = rule_set_with(ses)
    store = {
        "Name": "store",
        "Enabled": True,
        "ScanEnabled": True,
        "Recipients": ["inbound.example.com"],
        "Actions": [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "inbound/", "TopicArn": topic}}],
    }
    notify = {"Name": "notify", "Enabled": True, "Actions": [{"SNSAction": {"TopicArn": topic, "Encoding": "Base64"}}]}
    ses.create_receipt_rule(RuleSetName=rule_set, Rule=store)
    ses.create_receipt_rule(RuleSetName=rule_set, Rule=notify, After="store")
    assert ses.describe_receipt_rule(RuleSetName=rule_set, RuleName="notify")["Rule"] == notify

    store["Actions"] = [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "mail/"}}]
    ses.update_receipt_rule(RuleSetName=rule_set, Rule=store)
    ses.set_active_receipt_rule_set(RuleSetName=rule_set)

    active = ses.describe_active_receipt_rule_set()
    assert active["Metadata"]["Name"] == rule_set
    assert active["Rules"] == [store, notify]
    ses.set_active_receipt_rule_set()
    assert "Metadata" not in ses.describe_active_receipt_rule_set()
    ses.delete_receipt_rule_set(RuleSetName=rule_set)


# ------------------------------------------------------------------------------------------------
# appautoscaling-tags


def scalable_target(aws: Aws, **extra: Any) -> str:
    ecs = aws.client("ecs")
    cluster = unique("cluster")
    ecs.create_cluster(clusterName=cluster)
    family = unique("task")
    ecs.register_task_definition(family=family, containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256}])
    service = unique("api")
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=family, desiredCount=1)
    return str(
        aws.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{service}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=4,
            **extra,
        )["ScalableTargetARN"]
    )


@stock_fails("ListTagsForResource/TagResource/UntagResource are not implemented", raises=Exception)
def test_scalable_target_tags(server: Aws) -> None:
    scaling = server.client("application-autoscaling")
    arn = scalable_target(server, Tags={"Name": "api"})
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Name": "api"}

    scaling.tag_resource(ResourceARN=arn, Tags={"team": "mail"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["Name"])

    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "mail"}


def test_tags_of_an_unknown_target(aws: Aws) -> None:
    scaling = aws.client("application-autoscaling")
    missing = f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/{'0' * 36}"
    with pytest.raises(ClientError) as error:
        scaling.list_tags_for_resource(ResourceARN=missing)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_reregistering_keeps_the_tags(aws: Aws) -> None:
    scaling = aws.client("application-autoscaling")
    arn = scalable_target(aws, Tags={"Name": "api"})
    target = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    resource_id = next(t["ResourceId"] for t in target if t["ScalableTargetARN"] == arn)

    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        MaxCapacity=6,
        Tags={"other": "ignored"},
    )

    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Name": "api"}


# ------------------------------------------------------------------------------------------------
# rds-parameter-source


def parameter_group(rds: Any) -> str:
    name = unique("pg")
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres16", Description="t")
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {"ParameterName": "log_min_duration_statement", "ParameterValue": "500", "ApplyMethod": "immediate"},
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
        ],
    )
    return name


@stock_fails("modified parameters have no Source and the Source filter is ignored")
def test_modified_parameters_are_source_user(server: Aws) -> None:
    rds = server.client("rds")
    name = parameter_group(rds)

    user = rds.describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
    system = rds.describe_db_parameters(DBParameterGroupName=name, Source="system")["Parameters"]

    assert {(p["ParameterName"], p["ParameterValue"], p["Source"]) for p in user} == {
        ("log_min_duration_statement", "500", "user"),
        ("rds.force_ssl", "1", "user"),
    }
    assert system == []


@stock_fails("ResetDBParameterGroup is not implemented", raises=Exception)
def test_reset_db_parameter_group(server: Aws) -> None:
    rds = server.client("rds")
    name = parameter_group(rds)

    rds.reset_db_parameter_group(
        DBParameterGroupName=name, Parameters=[{"ParameterName": "rds.force_ssl", "ApplyMethod": "pending-reboot"}]
    )

    left = rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"]
    assert [p["ParameterName"] for p in left] == ["log_min_duration_statement"]
    rds.reset_db_parameter_group(DBParameterGroupName=name, ResetAllParameters=True)
    assert rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"] == []


def test_cluster_parameters_are_source_user(aws: Aws) -> None:
    rds = aws.client("rds")
    name = unique("cpg")
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=name, DBParameterGroupFamily="aurora-postgresql16", Description="t"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=name,
        Parameters=[{"ParameterName": "timezone", "ParameterValue": "UTC", "ApplyMethod": "immediate"}],
    )

    user = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=name, Source="user")["Parameters"]

    assert [(p["ParameterName"], p["Source"]) for p in user] == [("timezone", "user")]
    rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName=name, ResetAllParameters=True)
    assert rds.describe_db_cluster_parameters(DBClusterParameterGroupName=name)["Parameters"] == []


# ------------------------------------------------------------------------------------------------
# ecs-service-fields


def created_service(aws: Aws, **settings: Any) -> dict[str, Any]:
    ecs = aws.client("ecs")
    cluster = unique("cluster")
    ecs.create_cluster(clusterName=cluster)
    family = unique("task")
    ecs.register_task_definition(family=family, containerDefinitions=[{"name": "api", "image": "api:1", "memory": 256}])
    name = unique("api")
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=family, desiredCount=2, **settings)
    return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])


@stock_fails("CreateService drops these settings")
def test_service_settings_round_trip(server: Aws) -> None:
    settings: dict[str, Any] = {
        "healthCheckGracePeriodSeconds": 30,
        "availabilityZoneRebalancing": "ENABLED",
        "enableExecuteCommand": True,
        "propagateTags": "SERVICE",
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 50,
        },
    }

    service = created_service(server, **settings)

    assert {key: service.get(key) for key in settings} == settings


@stock_fails("no deploymentConfiguration defaults")
def test_service_defaults(server: Aws) -> None:
    service = created_service(server)

    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert service["enableExecuteCommand"] is False
    assert service["enableECSManagedTags"] is False


# ------------------------------------------------------------------------------------------------
# s3-list-url-encoding

AWKWARD_KEY = "inbound/a+b c%41.eml"


def bucket_with_awkward_key(aws: Aws, versioned: bool) -> tuple[Any, str]:
    s3 = aws.client("s3")
    bucket = unique("raw")
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=AWKWARD_KEY, Body=b"mail")
    return s3, bucket


@stock_fails("ListObjectVersions ignores encoding-type=url")
@pytest.mark.parametrize("versioned", [False, True])
def test_list_object_versions_url_encodes_keys(server: Aws, versioned: bool) -> None:
    s3, bucket = bucket_with_awkward_key(server, versioned)
    if versioned:
        s3.delete_object(Bucket=bucket, Key=AWKWARD_KEY)  # leaves a delete marker

    # Asking explicitly turns off botocore's own decoding: we see what the server sent, as Go does.
    listing = s3.list_object_versions(Bucket=bucket, Prefix="inbound/", EncodingType="url")

    assert listing["EncodingType"] == "url"
    keys = [v["Key"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", [])]
    assert keys
    assert {unquote_plus(key) for key in keys} == {AWKWARD_KEY}


def test_list_objects_encodes_prefixes(aws: Aws) -> None:
    s3, bucket = bucket_with_awkward_key(aws, versioned=False)

    listing = s3.list_objects(Bucket=bucket, Prefix="inbound/a+", Delimiter=" ", EncodingType="url")

    assert unquote_plus(listing["Prefix"]) == "inbound/a+"
    assert [unquote_plus(p["Prefix"]) for p in listing["CommonPrefixes"]] == ["inbound/a+b "]
    # and botocore's automatic decoding (no EncodingType given) still yields the real key
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [AWKWARD_KEY]
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [AWKWARD_KEY]


def test_list_objects_v2_is_left_to_moto(aws: Aws) -> None:
    s3, bucket = bucket_with_awkward_key(aws, versioned=False)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [AWKWARD_KEY]


# ------------------------------------------------------------------------------------------------
# ec2-security-group-rule-description


def two_groups(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    db = ec2.create_security_group(GroupName=unique("db"), Description="db", VpcId=vpc)["GroupId"]
    tasks = ec2.create_security_group(GroupName=unique("tasks"), Description="tasks", VpcId=vpc)["GroupId"]
    return db, tasks


@stock_fails("rules that reference a security group lose their Description")
def test_referenced_group_rule_keeps_its_description(server: Aws) -> None:
    ec2 = server.client("ec2")
    db, tasks = two_groups(ec2)

    created = ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": tasks, "Description": "PostgreSQL from the ECS tasks"}],
            }
        ],
    )["SecurityGroupRules"][0]
    described = ec2.describe_security_group_rules(SecurityGroupRuleIds=[created["SecurityGroupRuleId"]])

    assert created["Description"] == "PostgreSQL from the ECS tasks"
    assert described["SecurityGroupRules"][0]["Description"] == "PostgreSQL from the ECS tasks"
    assert described["SecurityGroupRules"][0]["ReferencedGroupInfo"]["GroupId"] == tasks


def test_rule_description_can_be_modified_and_cidr_rules_are_unchanged(aws: Aws) -> None:
    ec2 = aws.client("ec2")
    db, tasks = two_groups(ec2)
    # One permission per call, as the provider's aws_vpc_security_group_*_rule resources do (moto keeps
    # only the last of several permissions in one call: a gap left unpatched).
    rules = [
        ec2.authorize_security_group_egress(GroupId=tasks, IpPermissions=[permission])["SecurityGroupRules"][0]
        for permission in (
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": db}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
            },
        )
    ]
    by_port = {rule["FromPort"]: rule for rule in rules}
    assert "Description" not in by_port[5432]
    assert by_port[443]["Description"] == "https"

    ec2.modify_security_group_rules(
        GroupId=tasks,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": by_port[5432]["SecurityGroupRuleId"],
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "ReferencedGroupId": db,
                    "Description": "to the database",
                },
            }
        ],
    )

    got = ec2.describe_security_group_rules(SecurityGroupRuleIds=[by_port[5432]["SecurityGroupRuleId"]])
    assert got["SecurityGroupRules"][0]["Description"] == "to the database"


# ------------------------------------------------------------------------------------------------
# iam-conditional-deny


def bucket_with_policy(s3: Any, statement: Callable[[str], dict[str, Any]]) -> str:
    """A new bucket whose policy is the one statement `statement(bucket_name)`."""
    bucket = unique("raw")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement(bucket)]}))
    return bucket


def deny_insecure_transport(bucket: str) -> dict[str, Any]:
    """The statement the platform's Terraform (and most S3 hardening guides) puts on every bucket."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def deny_private_reads(bucket: str) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/private/*",
    }


def deny_private_reads_if_exists(bucket: str) -> dict[str, Any]:
    """...IfExists matches when the key is absent, on AWS too."""
    return {**deny_private_reads(bucket), "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}}


@stock_fails("a Deny whose condition is not met denies anyway (403)", raises=ClientError)
def test_conditional_deny_does_not_block_object_calls(server: Aws) -> None:
    s3 = server.client("s3")
    bucket = bucket_with_policy(s3, deny_insecure_transport)

    s3.put_object(Bucket=bucket, Key="inbound/1.eml", Body=b"mail")

    assert s3.get_object(Bucket=bucket, Key="inbound/1.eml")["Body"].read() == b"mail"
    assert "Errors" not in s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "inbound/1.eml"}]})


@pytest.mark.parametrize("statement", [deny_private_reads, deny_private_reads_if_exists])
def test_other_denies_still_deny(aws: Aws, statement: Callable[[str], dict[str, Any]]) -> None:
    s3 = aws.client("s3")
    bucket = bucket_with_policy(s3, statement)
    s3.put_object(Bucket=bucket, Key="private/secret", Body=b"x")

    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=bucket, Key="private/secret")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
