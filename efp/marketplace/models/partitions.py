"""SLURM partitions of an offering (Waldur's OfferingPartition): what the site agent's SLURM plugin reads
from the offering's `partitions` to scope its associations (`enforce_offering_partitions`)."""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from efp.marketplace.models.offerings import Offering

# The settings of a partition, in Waldur's order: (name, kind). Kinds: "text" (blank allowed), "count"
# (a whole number from 0, or null) and "flag". The model, the serializers and the service read this one
# table.
SETTINGS: tuple[tuple[str, str], ...] = (
    ("cpu_arch", "text"),
    ("gpu_arch", "text"),
    ("cpu_bind", "count"),
    ("def_cpu_per_gpu", "count"),
    ("max_cpus_per_node", "count"),
    ("max_cpus_per_socket", "count"),
    ("def_mem_per_cpu", "count"),
    ("def_mem_per_gpu", "count"),
    ("def_mem_per_node", "count"),
    ("max_mem_per_cpu", "count"),
    ("max_mem_per_node", "count"),
    ("default_time", "count"),
    ("max_time", "count"),
    ("grace_time", "count"),
    ("max_nodes", "count"),
    ("min_nodes", "count"),
    ("exclusive_topo", "flag"),
    ("exclusive_user", "flag"),
    ("priority_tier", "count"),
    ("qos", "text"),
    ("req_resv", "flag"),
)
NAME_LENGTH = 64
TEXT_LENGTH = 64
# SLURM's partition and QoS names as the agent's SLURM plugin accepts them (it refuses any other before it
# runs sacctmgr).
SLURM_NAME = RegexValidator(r"^[A-Za-z0-9_-]+$", "Use only letters, digits, '_' and '-', as SLURM names do.")


class OfferingPartition(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(default=timezone.now)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="partitions")
    partition_name = models.CharField(max_length=NAME_LENGTH, validators=[SLURM_NAME])

    cpu_arch = models.CharField(max_length=TEXT_LENGTH, blank=True, default="")
    gpu_arch = models.CharField(max_length=TEXT_LENGTH, blank=True, default="")
    cpu_bind = models.PositiveIntegerField(null=True, blank=True)
    def_cpu_per_gpu = models.PositiveIntegerField(null=True, blank=True)
    max_cpus_per_node = models.PositiveIntegerField(null=True, blank=True)
    max_cpus_per_socket = models.PositiveIntegerField(null=True, blank=True)
    def_mem_per_cpu = models.PositiveIntegerField(null=True, blank=True)
    def_mem_per_gpu = models.PositiveIntegerField(null=True, blank=True)
    def_mem_per_node = models.PositiveIntegerField(null=True, blank=True)
    max_mem_per_cpu = models.PositiveIntegerField(null=True, blank=True)
    max_mem_per_node = models.PositiveIntegerField(null=True, blank=True)
    default_time = models.PositiveIntegerField(null=True, blank=True)
    max_time = models.PositiveIntegerField(null=True, blank=True)
    grace_time = models.PositiveIntegerField(null=True, blank=True)
    max_nodes = models.PositiveIntegerField(null=True, blank=True)
    min_nodes = models.PositiveIntegerField(null=True, blank=True)
    exclusive_topo = models.BooleanField(default=False)
    exclusive_user = models.BooleanField(default=False)
    priority_tier = models.PositiveIntegerField(null=True, blank=True)
    qos = models.CharField(max_length=TEXT_LENGTH, blank=True, default="", validators=[SLURM_NAME])
    req_resv = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offering", "partition_name"], name="partition_name_per_offering")
        ]

    def __str__(self) -> str:
        return f"{self.offering} / {self.partition_name}"
