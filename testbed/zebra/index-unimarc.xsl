<?xml version="1.0" encoding="UTF-8"?>
<!-- Bib-1 indexes for UNIMARC/CNMARC records stored as MARCXML (Zebra DOM filter extract). -->
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:z="http://indexdata.com/zebra-2.0"
                xmlns:marc="http://www.loc.gov/MARC21/slim"
                version="1.0">
  <xsl:include href="common.xsl"/>
  <xsl:output indent="no" method="xml" version="1.0" encoding="UTF-8"/>
  <xsl:template match="text()"/>

  <xsl:template match="/">
    <xsl:apply-templates select="//marc:record"/>
  </xsl:template>

  <xsl:template match="marc:record">
    <z:record z:type="update">
      <xsl:if test="normalize-space(marc:controlfield[@tag='001']) != ''">
        <xsl:attribute name="z:id"><xsl:value-of select="normalize-space(marc:controlfield[@tag='001'])"/></xsl:attribute>
      </xsl:if>
      <xsl:call-template name="local-number"/>
      <xsl:call-template name="last-modified"/>
      <!-- what a CNMARC OPAC's title, author and subject indexes cover (pinyin $A/$9 left out) -->
      <xsl:for-each select="marc:datafield[@tag='200']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'adehi'"/></xsl:call-template>
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:s'"/>
          <xsl:with-param name="codes" select="'a'"/></xsl:call-template>
        <!-- statements of responsibility are author access points in CNMARC OPACs -->
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p'"/>
          <xsl:with-param name="codes" select="'fg'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='225']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'adehiv'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[starts-with(@tag, '4')]">
        <xsl:choose>
          <xsl:when test="marc:subfield[@code='1']">
            <!-- an embedded linking field: the title is the $a (and $v) of its embedded 200 -->
            <xsl:for-each select="marc:subfield[(@code='a' or @code='v')
                                  and starts-with(preceding-sibling::marc:subfield[@code='1'][1], '200')]">
              <z:index name="Title:w Title:p"><xsl:value-of select="normalize-space(.)"/></z:index>
            </xsl:for-each>
          </xsl:when>
          <xsl:otherwise>
            <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
              <xsl:with-param name="codes" select="'atv'"/></xsl:call-template>
          </xsl:otherwise>
        </xsl:choose>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[starts-with(@tag, '5')]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'aehi'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='700' or @tag='701' or @tag='702']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p Personal-name:w Personal-name:p'"/>
          <xsl:with-param name="codes" select="'ab'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='710' or @tag='711' or @tag='712' or @tag='720' or @tag='721'
                            or @tag='722']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p'"/>
          <xsl:with-param name="codes" select="'ab'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='010']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISBN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='011']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISSN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[starts-with(@tag, '60') or @tag='610']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Subject-heading:w Subject-heading:p'"/>
          <xsl:with-param name="codes" select="'abcdfgjtxyz'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='690']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Subject-heading:w Subject-heading:p'"/>
          <xsl:with-param name="codes" select="'a'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='210' or @tag='214']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Publisher:w Publisher:p'"/>
          <xsl:with-param name="codes" select="'c'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:variable name="f100" select="marc:datafield[@tag='100']/marc:subfield[@code='a']"/>
      <xsl:choose>
        <xsl:when test="string-length($f100) &gt;= 13 and translate(substring($f100, 10, 4), '0123456789', '') = ''">
          <xsl:call-template name="year"><xsl:with-param name="text" select="substring($f100, 10, 4)"/></xsl:call-template>
        </xsl:when>
        <xsl:otherwise>
          <xsl:call-template name="year">
            <xsl:with-param name="text" select="(marc:datafield[@tag='210' or @tag='214']/marc:subfield[@code='d'])[1]"/>
          </xsl:call-template>
        </xsl:otherwise>
      </xsl:choose>
      <xsl:call-template name="any"><xsl:with-param name="low" select="200"/>
        <xsl:with-param name="high" select="799"/></xsl:call-template>
    </z:record>
  </xsl:template>
</xsl:stylesheet>
