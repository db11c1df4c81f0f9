"""A platform-sized set of AWS resources made through boto3, and a describe of all of them.

For the emulator-state tests and benchmark: ``create(clients)`` makes resources of every service the
platform's Terraform uses (SQS, S3, SNS, EC2, ELBv2, ECS, RDS, KMS, SSM, Secrets Manager, CloudWatch, SES,
IAM, Logs, Route53, ACM, Application Auto Scaling) and returns their identifiers; ``describe(clients,
made)`` reads every one of them back, as JSON-able data, so two servers can be compared for equality.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
ASSUME_ECS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)

Clients = Callable[[str], Any]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def create(client: Clients, prefix: str = "snap") -> dict[str, Any]:
    """Make the resource set; returns the identifiers `describe` needs."""
    made: dict[str, Any] = {"prefix": prefix}
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    dlq_arn = _arn("sqs", f"{prefix}-dlq")
    ingest = sqs.create_queue(
        QueueName=f"{prefix}-ingest",
        Attributes={
            "VisibilityTimeout": "45",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=dlq,
        Attributes={
            "RedriveAllowPolicy": json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [_arn("sqs", f"{prefix}-ingest")]}
            )
        },
    )
    sqs.set_queue_attributes(
        QueueUrl=ingest,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": _arn("sqs", f"{prefix}-ingest"),
                        }
                    ],
                }
            )
        },
    )
    fifo = sqs.create_queue(
        QueueName=f"{prefix}-events.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    sqs.tag_queue(QueueUrl=ingest, Tags={"team": "mail"})
    sqs.send_message(QueueUrl=ingest, MessageBody="kept across the restore")
    sqs.send_message(QueueUrl=fifo, MessageBody="fifo body", MessageGroupId="g1")
    made["queues"] = [dlq, ingest, fifo]

    s3 = client("s3")
    bucket = f"{prefix}-raw-mail"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecure",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "ingest",
                    "QueueArn": _arn("sqs", f"{prefix}-ingest"),
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbound/"}]}},
                }
            ],
        },
    )
    s3.put_object(Bucket=bucket, Key="readme.txt", Body=b"v1")
    s3.put_object(Bucket=bucket, Key="readme.txt", Body=b"v2")
    made["bucket"] = bucket

    sns = client("sns")
    topic = sns.create_topic(Name=f"{prefix}-alerts", Attributes={"DisplayName": "alerts"})["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=dlq_arn,
        Attributes={"FilterPolicy": json.dumps({"severity": ["high"]}), "RawMessageDelivery": "true"},
    )
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    made["topic"] = topic

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName=f"{prefix}-alb", Description="alb", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}],
            }
        ],
    )
    made.update(vpc=vpc, subnets=subnets, security_group=sg)

    acm = client("acm")
    cert = acm.request_certificate(DomainName=f"api.{prefix}.example.com", ValidationMethod="DNS")["CertificateArn"]
    made["certificate"] = cert

    elbv2 = client("elbv2")
    alb = elbv2.create_load_balancer(Name=f"{prefix}-alb", Subnets=subnets, SecurityGroups=[sg], Type="application")
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(
        Name=f"{prefix}-api",
        Protocol="HTTP",
        Port=8000,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/healthz",
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(
        TargetGroupArn=tg, Targets=[{"Id": "10.20.1.10", "Port": 8001}, {"Id": "10.20.1.10", "Port": 8002}]
    )
    https = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )
    elbv2.create_rule(
        ListenerArn=https,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/admin/*"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain"}}],
    )
    made.update(alb=alb_arn, target_group=tg)

    iam = client("iam")
    role = iam.create_role(RoleName=f"{prefix}-task", AssumeRolePolicyDocument=ASSUME_ECS)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=f"{prefix}-task",
        PolicyName="read-queue",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}],
            }
        ),
    )
    iam.attach_role_policy(
        RoleName=f"{prefix}-task", PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    )
    made["role"] = f"{prefix}-task"

    logs = client("logs")
    logs.create_log_group(logGroupName=f"/ecs/{prefix}")
    logs.put_retention_policy(logGroupName=f"/ecs/{prefix}", retentionInDays=14)
    made["log_group"] = f"/ecs/{prefix}"

    ecs = client("ecs")
    cluster = ecs.create_cluster(clusterName=prefix)["cluster"]["clusterArn"]
    task_def = ecs.register_task_definition(
        family=f"{prefix}-api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn=role,
        taskRoleArn=role,
        containerDefinitions=[
            {
                "name": "api",
                "image": "mailstack/api:latest",
                "essential": True,
                "portMappings": [{"containerPort": 8000}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/{prefix}"}},
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    service = ecs.create_service(
        cluster=prefix,
        serviceName="api",
        taskDefinition=task_def,
        desiredCount=2,
        launchType="FARGATE",
        loadBalancers=[{"targetGroupArn": tg, "containerName": "api", "containerPort": 8000}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
        healthCheckGracePeriodSeconds=30,
    )["service"]["serviceArn"]
    made.update(cluster=cluster, task_definition=task_def, service=service)

    appautoscaling = client("application-autoscaling")
    appautoscaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{prefix}/api",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )

    kms = client("kms")
    key = kms.create_key(Description=f"{prefix} data key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/{prefix}", TargetKeyId=key)
    kms.enable_key_rotation(KeyId=key)
    made["key"] = key
    made["ciphertext"] = kms.encrypt(KeyId=f"alias/{prefix}", Plaintext=b"sealed before the save")["CiphertextBlob"]
    sign_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    made["sign_key"] = sign_key
    made["signature"] = kms.sign(
        KeyId=sign_key, Message=b"signed before the save", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"
    )["Signature"]

    rds = client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName=prefix, DBSubnetGroupDescription="db", SubnetIds=subnets)
    rds.create_db_instance(
        DBInstanceIdentifier=f"{prefix}-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16.3",
        MasterUsername="mailstack",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
        DBSubnetGroupName=prefix,
        VpcSecurityGroupIds=[sg],
        StorageEncrypted=True,
        KmsKeyId=key,
    )
    made["db"] = f"{prefix}-db"

    ssm = client("ssm")
    ssm.put_parameter(Name=f"/{prefix}/api/token", Value="s3cr3t", Type="SecureString", KeyId=f"alias/{prefix}")
    ssm.put_parameter(Name=f"/{prefix}/api/mode", Value="live", Type="String")
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=f"/{prefix}/api/mode", Tags=[{"Key": "k", "Value": "v"}]
    )
    made["parameters"] = [f"/{prefix}/api/token", f"/{prefix}/api/mode"]

    secrets = client("secretsmanager")
    made["secret"] = secrets.create_secret(Name=f"{prefix}/webhook", SecretString=json.dumps({"key": "abc"}))["ARN"]

    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="Mailstack",
        MetricData=[
            {
                "MetricName": "Ingested",
                "Dimensions": [{"Name": "Queue", "Value": "ingest"}],
                "Value": v,
                "Unit": "Count",
            }
            for v in (1.0, 2.0, 3.0)
        ],
    )
    cloudwatch.put_metric_alarm(
        AlarmName=f"{prefix}-dlq-depth",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": f"{prefix}-dlq"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic],
        TreatMissingData="notBreaching",
    )
    cloudwatch.set_alarm_state(AlarmName=f"{prefix}-dlq-depth", StateValue="ALARM", StateReason="test")
    made["alarm"] = f"{prefix}-dlq-depth"

    ses = client("ses")
    ses.create_receipt_rule_set(RuleSetName=prefix)
    ses.create_receipt_rule(
        RuleSetName=prefix,
        Rule={
            "Name": "store",
            "Enabled": True,
            "Recipients": [f"inbound.{prefix}.example.com"],
            "ScanEnabled": True,
            "Actions": [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": "inbound/"}}],
        },
    )
    ses.set_active_receipt_rule_set(RuleSetName=prefix)
    ses.verify_domain_identity(Domain=f"{prefix}.example.com")
    made["rule_set"] = prefix

    route53 = client("route53")
    zone = route53.create_hosted_zone(Name=f"{prefix}.example.com", CallerReference=prefix)["HostedZone"]["Id"]
    dns = elbv2.describe_load_balancers(LoadBalancerArns=[alb_arn])["LoadBalancers"][0]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"api.{prefix}.example.com",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": dns["CanonicalHostedZoneId"],
                            "DNSName": dns["DNSName"],
                            "EvaluateTargetHealth": True,
                        },
                    },
                }
            ]
        },
    )
    made["zone"] = zone
    return made


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k not in ("ResponseMetadata", "NextToken", "nextToken", "Marker")}


def describe(client: Clients, made: dict[str, Any]) -> dict[str, Any]:
    """Every resource of `made` as its describe/get/list calls answer, without request metadata."""
    prefix = made["prefix"]
    sqs, s3, sns, ec2, elbv2 = (client(s) for s in ("sqs", "s3", "sns", "ec2", "elbv2"))
    out: dict[str, Any] = {}
    out["sqs"] = {
        url.rsplit("/", 1)[-1]: {
            "attributes": {
                k: v
                for k, v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"].items()
                if k not in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
            },
            "tags": sqs.list_queue_tags(QueueUrl=url).get("Tags", {}),
        }
        for url in made["queues"]
    }
    bucket = made["bucket"]
    out["s3"] = {
        "versioning": _strip(s3.get_bucket_versioning(Bucket=bucket)),
        "policy": s3.get_bucket_policy(Bucket=bucket)["Policy"],
        "notification": _strip(s3.get_bucket_notification_configuration(Bucket=bucket)),
        "versions": [
            {k: v.get(k) for k in ("Key", "VersionId", "ETag", "Size", "IsLatest", "LastModified")}
            for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])
        ],
        "body": s3.get_object(Bucket=bucket, Key="readme.txt")["Body"].read().decode(),
    }
    topic = made["topic"]
    out["sns"] = {
        "topic": sns.get_topic_attributes(TopicArn=topic)["Attributes"],
        "subscriptions": [
            {**s, "attributes": sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]}
            for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        ],
    }
    out["ec2"] = {
        "vpc": ec2.describe_vpcs(VpcIds=[made["vpc"]])["Vpcs"],
        "subnets": ec2.describe_subnets(SubnetIds=made["subnets"])["Subnets"],
        "security_groups": ec2.describe_security_groups(GroupIds=[made["security_group"]])["SecurityGroups"],
        "route_tables": ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [made["vpc"]]}])["RouteTables"],
    }
    listeners = elbv2.describe_listeners(LoadBalancerArn=made["alb"])["Listeners"]
    out["elbv2"] = {
        "load_balancer": elbv2.describe_load_balancers(LoadBalancerArns=[made["alb"]])["LoadBalancers"],
        "attributes": elbv2.describe_load_balancer_attributes(LoadBalancerArn=made["alb"])["Attributes"],
        "listeners": listeners,
        "rules": [elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] for listener in listeners],
        "target_group": elbv2.describe_target_groups(TargetGroupArns=[made["target_group"]])["TargetGroups"],
        "target_health": elbv2.describe_target_health(TargetGroupArn=made["target_group"])["TargetHealthDescriptions"],
    }
    ecs = client("ecs")
    out["ecs"] = {
        "cluster": ecs.describe_clusters(clusters=[made["cluster"]])["clusters"],
        "task_definition": ecs.describe_task_definition(taskDefinition=made["task_definition"])["taskDefinition"],
        "service": ecs.describe_services(cluster=made["cluster"], services=[made["service"]])["services"],
    }
    out["appautoscaling"] = client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")[
        "ScalableTargets"
    ]
    kms = client("kms")
    out["kms"] = {
        "key": kms.describe_key(KeyId=made["key"])["KeyMetadata"],
        "aliases": [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{prefix}"],
        "rotation": kms.get_key_rotation_status(KeyId=made["key"])["KeyRotationEnabled"],
        "public_key": kms.get_public_key(KeyId=made["sign_key"])["PublicKey"],
    }
    rds = client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=made["db"])["DBInstances"]
    secret_arn = db[0]["MasterUserSecret"]["SecretArn"]
    secrets = client("secretsmanager")
    for instance in db:
        instance.pop("LatestRestorableTime", None)  # moto answers now()
    out["rds"] = {
        "instance": db,
        "subnet_group": rds.describe_db_subnet_groups(DBSubnetGroupName=prefix)["DBSubnetGroups"],
    }
    out["secretsmanager"] = {
        arn: {
            "describe": _strip(secrets.describe_secret(SecretId=arn)),
            "value": _strip(secrets.get_secret_value(SecretId=arn)),
        }
        for arn in (made["secret"], secret_arn)
    }
    ssm = client("ssm")
    out["ssm"] = {
        # moto answers in set order (hash-seeded per process)
        "parameters": sorted(
            ssm.get_parameters(Names=made["parameters"], WithDecryption=True)["Parameters"], key=lambda p: p["Name"]
        ),
        "history": [ssm.get_parameter_history(Name=name)["Parameters"] for name in made["parameters"]],
        "tags": ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=made["parameters"][1])["TagList"],
    }
    cloudwatch = client("cloudwatch")
    out["cloudwatch"] = {
        "alarms": cloudwatch.describe_alarms(AlarmNames=[made["alarm"]])["MetricAlarms"],
        "history": cloudwatch.describe_alarm_history(AlarmName=made["alarm"])["AlarmHistoryItems"],
        "metrics": cloudwatch.list_metrics(Namespace="Mailstack")["Metrics"],
    }
    ses = client("ses")
    out["ses"] = {
        "active": _strip(ses.describe_active_receipt_rule_set()),
        "identities": ses.list_identities()["Identities"],
    }
    iam = client("iam")
    role = made["role"]
    out["iam"] = {
        "role": iam.get_role(RoleName=role)["Role"],
        "inline": iam.get_role_policy(RoleName=role, PolicyName="read-queue")["PolicyDocument"],
        "attached": iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"],
    }
    out["logs"] = client("logs").describe_log_groups(logGroupNamePrefix=made["log_group"])["logGroups"]
    route53 = client("route53")
    out["route53"] = {
        "zone": _strip(route53.get_hosted_zone(Id=made["zone"])),
        "records": route53.list_resource_record_sets(HostedZoneId=made["zone"])["ResourceRecordSets"],
    }
    out["acm"] = client("acm").describe_certificate(CertificateArn=made["certificate"])["Certificate"]
    return out
